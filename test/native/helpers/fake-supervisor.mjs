// A scripted stand-in for the native supervisor, to test SupervisorLink's framing and failure handling.
// usage: node fake-supervisor.mjs --socket PATH -- SCENARIO
import net from 'node:net';

const socketPath = process.argv[process.argv.indexOf('--socket') + 1];
const scenario = process.argv[process.argv.indexOf('--') + 1];
const hex = (s) => Buffer.from(s).toString('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (scenario === 'exit-early') process.exit(3);

const sock = net.connect(socketPath);
let buf = '';
const lines = [];
let wake = null;
sock.on('data', (d) => {
  buf += d.toString('latin1');
  let nl;
  while ((nl = buf.indexOf('\n')) >= 0) {
    lines.push(buf.slice(0, nl));
    buf = buf.slice(nl + 1);
  }
  wake?.();
});
sock.on('close', () => process.exit(0));
async function nextLine() {
  while (!lines.length) await new Promise((r) => (wake = r));
  return lines.shift();
}

// The link's secret, as the real supervisor sends it (docs/protocol.md, AUTH).
if (scenario !== 'no-auth') sock.write(`AUTH token=${process.env.AGENT_GATE_LINK_TOKEN ?? ''}\n`);
sock.write('HELLO 1 pid=1 abi=7 notif=1 killable=1\n');
const config = [];
for (let l = await nextLine(); l !== 'START'; l = await nextLine()) config.push(l);
if (scenario === 'fatal') {
  sock.write(`REPORT fs=off\nFATAL msg=${hex('no gate for you')}\n`);
  await sleep(50);
  process.exit(126);
}
if (scenario === 'same-chunk') {
  // STARTED and the agent's first EXEC in one write, as a fast supervisor produces them.
  sock.write(`REPORT fs=off\nSTARTED pid=4242\nEXEC id=1 tid=5 pid=5 ppid=1 uid=0 sc=execve flags=0 path= cwd= t=1\n`);
  const v = await nextLine();
  sock.write(`WARN msg=${hex('got ' + v)}\n`);
  await sleep(50);
  sock.write('EXIT id=1 code=0 signal=0\n');
  await sleep(50);
  process.exit(0);
}
sock.write(`REPORT fs=off net=off\nWARN msg=${hex('a warning')}\nSTARTED pid=4242\n`);
if (scenario === 'echo-config') {
  // Report the config lines back as warnings, then exit.
  for (const l of config) sock.write(`WARN msg=${hex(l)}\n`);
}
if (scenario === 'chunked') {
  const big = 'x'.repeat(300000);
  const line = `EXEC id=1 tid=5 pid=5 ppid=1 uid=0 sc=execve flags=0 path=${hex('/bin/big')} cwd=${hex('/')} argv=${hex(big)} argv=${hex('é')} t=1\n`;
  for (let i = 0; i < line.length; i += 7001) {
    sock.write(line.slice(i, i + 7001));
    await sleep(1);
  }
  const v = await nextLine();
  sock.write(`WARN msg=${hex('got ' + v)}\n`);
}
if (scenario === 'garbage') sock.write('BOGUS 1 2 3\n');
if (scenario === 'vanish') {
  await sleep(20);
  process.exit(9);
}
if (scenario === 'linger') {
  await sleep(60_000);
}
await sleep(50);
sock.write('EXIT id=1 code=0 signal=0\n');
await sleep(50);
process.exit(0);
