/* The agent's own terminal, the way sudo's use_pty does it.
 *
 * When our stdin is a terminal (the user's shell through the CLI, or node-pty's pty in VS Code), the agent
 * does not get that terminal: it gets a pty of its own, in a session of its own, as its controlling
 * terminal. We relay between the outer terminal and the pty's master: the outer terminal is in raw mode,
 * so ^C, ^Z and ^\ are bytes that reach the inner line discipline, which signals the agent's foreground
 * group there; window size changes (SIGWINCH on us) are copied to the pty; the outer terminal's mode is
 * restored on every way out. What this takes away from the agent:
 *   - it holds no descriptor of the user's terminal and cannot open it by path (Landlock grants only its own
 *     pty), so it cannot read what the user types there or make it act (TIOCSTI is refused by the filter
 *     as well, and into a terminal not one's own needs CAP_SYS_ADMIN, dropped);
 *   - it is in none of the process groups of the user's terminal: no signal of the terminal (^Z, SIGTTIN,
 *     a hangup) reaches the supervisor or the CLI because of anything the agent does;
 *   - whatever it leaves in its terminal's input when it exits dies with the pty, never reaching the
 *     user's shell;
 *   - the approval prompt (the CLI's, on the outer terminal) reads input only the user can type: while a
 *     question is up the relay reads nothing from the outer terminal and writes nothing to it.
 * Each of the agent's stdin, stdout and stderr that was the terminal becomes the pty; a pipe or a file is
 * passed through unchanged. Without a terminal on any of them there is no pty; the agent still gets a session
 * of its own (and so no controlling terminal).
 *
 * The relay runs in the notification loop's poll: two buffers, non-blocking descriptors (the outer terminal
 * is opened again, so its O_NONBLOCK is ours alone, not the user's shell's), no write that can block the
 * exec path. A full buffer stops reading the other side, so a slow terminal slows the agent's output, as
 * it would without the gate. */
#include "pty.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define BUF_SIZE 65536

struct ring {
	char data[BUF_SIZE];
	size_t start, len;
};

static struct {
	bool active;      /* a pty is in use */
	int outer;        /* the user's terminal, opened again (non-blocking) */
	int master;       /* the pty's master (non-blocking) */
	int slave;        /* the pty's slave, until the agent holds it */
	char slave_path[64];
	struct termios saved; /* the outer terminal's mode, restored on exit */
	bool raw;             /* the outer terminal is in raw mode now */
	bool paused;          /* TERMINAL owner=broker: the relay neither reads nor writes the outer terminal */
	bool outer_eof, master_eof;
	struct ring in, out; /* outer → master (keys), master → outer (output) */
	bool tty_fd[3];      /* which of our 0, 1, 2 is the terminal */
} g = { .outer = -1, .master = -1, .slave = -1 };

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

bool pty_open(void (*warn)(const char *msg))
{
	char msg[512], outer_path[256];

	/* Any of 0, 1, 2 that is a terminal: with only stdout or stderr one (`agent < file`, `cmd | agent`), the
	 * agent would otherwise hold the user's terminal on it, usually opened for reading too (a shell opens its
	 * terminal O_RDWR): it could read what the user types, the approval prompt's answer included. */
	int first = -1;
	for (int fd = 2; fd >= 0; fd--)
		if ((g.tty_fd[fd] = isatty(fd)))
			first = fd;
	if (first < 0)
		return false;
	/* ttyname_r(3) and a fresh open: an open file description of our own, so O_NONBLOCK here does not leak
	 * into the shell that shares that descriptor's description. */
	int e = ttyname_r(first, outer_path, sizeof(outer_path));
	if (e == 0)
		g.outer = open(outer_path, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (e != 0 || g.outer < 0) {
		/* A terminal another user owns (su, setpriv, sudo -u) cannot be opened by its name, but /dev/tty opens
		 * our controlling terminal whoever owns it (tty(4)): take it when it is the same terminal. Without a
		 * relay the agent would write to the user's terminal itself and could draw over a question (R51). */
		int t = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
		/* The same terminal: tcgetsid(3) succeeds only on our controlling terminal (fstat of /dev/tty gives
		 * /dev/tty's own device number, not the terminal's). */
		pid_t sid = tcgetsid(first);
		if (t >= 0 && sid >= 0 && sid == getsid(0)) {
			g.outer = t;
			e = 0;
		} else if (t >= 0) {
			close(t);
		}
	}
	if (e != 0 || g.outer < 0) {
		snprintf(msg, sizeof(msg),
			 "cannot open the terminal again (%s): the agent gets no terminal of its own and shares yours",
			 strerror(e ? e : errno));
		warn(msg);
		return false;
	}
	if (tcgetattr(g.outer, &g.saved) < 0) {
		snprintf(msg, sizeof(msg), "tcgetattr on the terminal: %s; the agent gets no terminal of its own",
			 strerror(errno));
		warn(msg);
		close(g.outer);
		g.outer = -1;
		return false;
	}
	/* posix_openpt(3): a new pty master; unlockpt/ptsname_r name its slave. */
	g.master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (g.master < 0 || grantpt(g.master) < 0 || unlockpt(g.master) < 0 ||
	    ptsname_r(g.master, g.slave_path, sizeof(g.slave_path)) != 0 ||
	    (g.slave = open(g.slave_path, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		snprintf(msg, sizeof(msg), "cannot allocate a terminal for the agent (%s): it shares yours",
			 strerror(errno));
		warn(msg);
		if (g.master >= 0)
			close(g.master);
		close(g.outer);
		g.master = g.outer = -1;
		return false;
	}
	/* The agent's terminal starts as the user's: same mode (erase character, IUTF8…) and size. */
	tcsetattr(g.slave, TCSANOW, &g.saved);
	struct winsize ws;
	if (ioctl(g.outer, TIOCGWINSZ, &ws) == 0)
		ioctl(g.master, TIOCSWINSZ, &ws);
	set_nonblock(g.master);
	g.active = true;
	return true;
}

const char *pty_slave_path(void)
{
	return g.active ? g.slave_path : NULL;
}

void pty_child(void)
{
	/* setsid(2): a session of its own, out of the user's terminal's session and process groups (ours and
	 * the CLI's). Then, with a pty, that pty becomes the session's controlling terminal (TIOCSCTTY, tty_ioctl(4)),
	 * and replaces each of 0, 1, 2 that was the user's terminal. */
	if (setsid() < 0)
		_exit(EXIT_GATE_FAILURE);
	if (!g.active)
		return;
	if (ioctl(g.slave, TIOCSCTTY, 0) < 0)
		_exit(EXIT_GATE_FAILURE);
	for (int fd = 0; fd < 3; fd++)
		if (g.tty_fd[fd] && dup2(g.slave, fd) < 0)
			_exit(EXIT_GATE_FAILURE);
	close(g.slave);
	close(g.master);
	close(g.outer);
}

static void set_raw(bool raw)
{
	if (g.outer < 0 || raw == g.raw)
		return;
	struct termios t = g.saved;
	if (raw)
		cfmakeraw(&t);
	/* tcsetattr(3); SIGTTOU is ignored here, so this works from a background group too. TCSADRAIN: what we
	 * wrote is shown in the mode it was written for. */
	if (tcsetattr(g.outer, TCSADRAIN, &t) == 0)
		g.raw = raw;
}

void pty_start(void)
{
	if (!g.active)
		return;
	close(g.slave);
	g.slave = -1;
	set_raw(true);
}

void pty_restore(void)
{
	if (g.outer >= 0 && g.raw) {
		tcsetattr(g.outer, TCSADRAIN, &g.saved);
		g.raw = false;
	}
}

static size_t ring_room(const struct ring *r)
{
	return BUF_SIZE - r->len;
}

/* Read what fits from fd into r (one read into the contiguous free part). 0 when nothing came (EAGAIN), 1 on
 * data, -1 on EOF or error. */
static int ring_read(struct ring *r, int fd)
{
	size_t end = (r->start + r->len) % BUF_SIZE;
	size_t n = end >= r->start ? BUF_SIZE - end : r->start - end;
	if (n > ring_room(r))
		n = ring_room(r);
	if (n == 0)
		return 0;
	ssize_t got = read(fd, r->data + end, n);
	if (got > 0) {
		r->len += (size_t)got;
		return 1;
	}
	if (got < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	return -1; /* 0: EOF; EIO: the other side is gone (a pty master once no slave is open) */
}

/* Write what fd takes from r. 0 when it took nothing now, 1 on progress, -1 on error. */
static int ring_write(struct ring *r, int fd)
{
	if (!r->len)
		return 0;
	size_t n = r->start + r->len > BUF_SIZE ? BUF_SIZE - r->start : r->len;
	ssize_t put = write(fd, r->data + r->start, n);
	if (put > 0) {
		r->start = (r->start + (size_t)put) % BUF_SIZE;
		r->len -= (size_t)put;
		if (!r->len)
			r->start = 0;
		return 1;
	}
	if (put < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	return -1;
}

/* ---- what the agent prints: string sequences that act outside the gate are dropped (red-team R41) ----
 * The relay passes the agent's output to the user's terminal byte for byte, and some terminal sequences act
 * outside the terminal: OSC 52 writes the clipboard (pasted later into the user's shell), iTerm2's OSC 1337
 * writes files and the clipboard, kitty's DCS remote control launches programs, DCS/APC/PM/SOS strings carry
 * such commands for other terminals. The relay keeps the OSCs a program needs — titles and colours — and
 * drops every other OSC and every DCS, APC, PM and SOS string, whether introduced by ESC or by its C1 code
 * point (U+0090..U+009F, which UTF-8 terminals such as xterm.js honour). Raw bytes 0x80..0x9F are UTF-8
 * continuation bytes and pass. The state carries over between reads.
 * Shell integration (OSC 133, VS Code's 633), the working directory (OSC 7) and notifications (OSC 9) describe
 * the user's shell, not the agent: VS Code adds each "command" they report to its application-wide recent
 * command and directory history, offered later in the user's ungated terminals (red-team R93): dropped. A
 * hyperlink (OSC 8) passes only to a file:, http: or https: URI; one to any other scheme (vscode:// opens an
 * extension's URI handler on Ctrl+click, with no prompt) loses its link and keeps its text. */
enum fstate { F_GROUND, F_ESC, F_C2, F_OSC_NUM, F_OSC8, F_OSC_PASS, F_OSC_PASS_ESC, F_OSC_PASS_C2, F_DROP, F_DROP_ESC, F_DROP_C2 };
static struct {
	enum fstate st;
	/* ESC ] or C2 9D and the OSC's number, until it is known; for OSC 8, up to its URI's scheme (a link whose
	 * parameters do not fit is dropped: its text stays) */
	char held[256];
	size_t nheld;
	unsigned semis; /* OSC 8: the ';' seen after the number (2: the URI has begun, at uri) */
	size_t uri;
	bool closing; /* the held ESC or C1 ends a string we passed: when we drop what it starts, a BEL ends it */
} flt;

static bool osc_allowed(const char *num, size_t n)
{
	static const char *const ok[] = { "0", "1", "2", "4", "10", "11", "12", "17", "19", "104", "110", "111", "112", "117", "119" };
	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++)
		if (strlen(ok[i]) == n && memcmp(ok[i], num, n) == 0)
			return true;
	return false;
}

/* OSC 8 held up to its URI's scheme (flt.uri .. the ':' just held): one the user may follow safely. */
static bool link_scheme_allowed(void)
{
	static const char *const ok[] = { "file", "http", "https" };
	const char *sch = flt.held + flt.uri;
	size_t n = flt.nheld - flt.uri - 1;
	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++)
		if (strlen(ok[i]) == n && strncasecmp(ok[i], sch, n) == 0)
			return true;
	return false;
}

/* Filter n bytes of the agent's output into out (room for n + sizeof(flt.held)); the bytes written. */
static size_t filter_out(const unsigned char *in, size_t n, char *out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = in[i];
	again:
		switch (flt.st) {
		case F_GROUND:
			if (c == 0x1b)
				flt.st = F_ESC;
			else if (c == 0xc2)
				flt.st = F_C2;
			else
				out[k++] = (char)c;
			break;
		case F_ESC:
		case F_C2: {
			bool esc = flt.st == F_ESC;
			if ((esc && c == ']') || (!esc && c == 0x9d)) {
				flt.held[0] = esc ? 0x1b : (char)0xc2;
				flt.held[1] = (char)c;
				flt.nheld = 2;
				flt.st = F_OSC_NUM;
			} else if ((esc && (c == 'P' || c == 'X' || c == '^' || c == '_')) ||
				   (!esc && (c == 0x90 || c == 0x98 || c == 0x9e || c == 0x9f))) {
				if (flt.closing)
					out[k++] = 0x07;
				flt.closing = false;
				flt.st = F_DROP;
			} else {
				out[k++] = esc ? 0x1b : (char)0xc2;
				flt.closing = false;
				flt.st = F_GROUND;
				goto again;
			}
			break;
		}
		case F_OSC_NUM:
			if (c >= '0' && c <= '9' && flt.nheld < sizeof(flt.held)) {
				flt.held[flt.nheld++] = (char)c;
				break;
			}
			if (flt.nheld == 3 && flt.held[2] == '8') {
				flt.semis = 0;
				flt.st = F_OSC8; /* the link's scheme decides */
				goto again;
			}
			if (osc_allowed(flt.held + 2, flt.nheld - 2)) {
				memcpy(out + k, flt.held, flt.nheld);
				k += flt.nheld;
				flt.st = F_OSC_PASS;
			} else {
				if (flt.closing)
					out[k++] = 0x07;
				flt.st = F_DROP;
			}
			flt.closing = false;
			goto again;
		case F_OSC8: {
			/* ESC ] 8 ; params ; URI ST: held until the URI's scheme is known. An empty URI ends a link (passed);
			 * a string that ends, or a byte that cannot be part of a scheme, before the ':' drops it. */
			bool ends = c == 0x07 || c == 0x18 || c == 0x1a || c == 0x1b || c == 0xc2;
			int verdict = 0; /* 1 pass, -1 drop, 0 hold on */
			if (ends || flt.nheld >= sizeof(flt.held))
				verdict = flt.semis == 2 && flt.nheld == flt.uri && ends ? 1 : -1;
			else if (flt.semis < 2 && flt.nheld == 3 && c != ';')
				verdict = -1; /* ESC ] 8 and no parameters: not a link */
			if (verdict == 0) {
				flt.held[flt.nheld++] = (char)c;
				if (flt.semis < 2) {
					if (c == ';' && ++flt.semis == 2)
						flt.uri = flt.nheld;
					break;
				}
				if (c == ':')
					verdict = flt.nheld - 1 > flt.uri && link_scheme_allowed() ? 1 : -1;
				else if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z') && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.')
					verdict = -1;
				else if (flt.nheld - flt.uri > 5)
					verdict = -1; /* longer than "https" */
				if (verdict == 0)
					break;
				if (verdict == 1) {
					memcpy(out + k, flt.held, flt.nheld);
					k += flt.nheld;
					flt.closing = false;
					flt.st = F_OSC_PASS;
					break;
				}
				if (flt.closing)
					out[k++] = 0x07;
				flt.closing = false;
				flt.st = F_DROP; /* the rest of the URI, up to its end */
				break;
			}
			if (verdict == 1) {
				memcpy(out + k, flt.held, flt.nheld);
				k += flt.nheld;
				flt.st = F_OSC_PASS;
			} else {
				if (flt.closing)
					out[k++] = 0x07;
				flt.st = F_DROP;
			}
			flt.closing = false;
			goto again;
		}
		case F_OSC_PASS:
			if (c == 0x1b) {
				flt.st = F_OSC_PASS_ESC; /* ST, or the terminal ends the string and starts another */
				break;
			}
			if (c == 0xc2) {
				flt.st = F_OSC_PASS_C2; /* a C1 control ends the string too (red-team R58) */
				break;
			}
			out[k++] = (char)c;
			if (c == 0x07 || c == 0x18 || c == 0x1a)
				flt.st = F_GROUND;
			break;
		case F_OSC_PASS_C2:
			/* Every C1 code point is an "anywhere" transition for the terminal (the VT500 parser of xterm.js,
			 * VTE, alacritty): it ends the passed string, and U+009D, U+0090, U+0098, U+009E, U+009F start one
			 * whose kind we must see (R58: read as part of the title, `ESC]0;t` U+009D `52;c;…` was an OSC 52).
			 * Read the C1 as in ground; a string it starts that we drop gets a BEL for the one it ended (the
			 * terminal would otherwise hold the title open; never more bytes out than in). */
			if (c >= 0x80 && c <= 0x9f) {
				flt.closing = true;
				flt.st = F_C2;
				goto again;
			}
			out[k++] = (char)0xc2;
			flt.st = F_OSC_PASS;
			goto again;
		case F_OSC_PASS_ESC:
			if (c == '\\') {
				out[k++] = 0x1b;
				out[k++] = '\\';
				flt.st = F_GROUND;
				break;
			}
			flt.closing = true; /* the ESC, held, is what ends the passed string for the terminal */
			flt.st = F_ESC;
			goto again;
		case F_DROP:
			if (c == 0x1b)
				flt.st = F_DROP_ESC;
			else if (c == 0xc2)
				flt.st = F_DROP_C2;
			else if (c == 0x07 || c == 0x18 || c == 0x1a)
				flt.st = F_GROUND;
			break;
		case F_DROP_ESC:
			if (c == '\\') {
				flt.st = F_GROUND;
				break;
			}
			flt.st = F_ESC;
			goto again;
		case F_DROP_C2:
			flt.st = c == 0x9c ? F_GROUND : F_DROP;
			break;
		}
	}
	return k;
}

/* Read the agent's output from the pty's master through filter_out into the output ring. */
static int read_master(void)
{
	unsigned char tmp[4096];
	size_t room = ring_room(&g.out);
	if (room <= sizeof(flt.held) + 2)
		return 0;
	size_t want = room - sizeof(flt.held) - 2;
	ssize_t got = read(g.master, tmp, want < sizeof(tmp) ? want : sizeof(tmp));
	if (got < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (got <= 0)
		return -1;
	char out[sizeof(tmp) + sizeof(flt.held) + 2];
	size_t n = filter_out(tmp, (size_t)got, out);
	for (size_t i = 0; i < n; i++) {
		g.out.data[(g.out.start + g.out.len) % BUF_SIZE] = out[i];
		g.out.len++;
	}
	return 1;
}

int pty_pollfds(struct pollfd *p)
{
	if (!g.active)
		return 0;
	short oe = 0, me = 0;
	if (!g.paused && !g.outer_eof && ring_room(&g.in))
		oe |= POLLIN;
	if (!g.paused && g.out.len)
		oe |= POLLOUT;
	if (!g.paused && !g.master_eof && ring_room(&g.out))
		me |= POLLIN;
	if (!g.master_eof && g.in.len)
		me |= POLLOUT;
	/* A descriptor with nothing to wait for is left out: a hung-up one would report POLLHUP forever. */
	p[0] = (struct pollfd){ .fd = oe ? g.outer : -1, .events = oe };
	p[1] = (struct pollfd){ .fd = me ? g.master : -1, .events = me };
	return 2;
}

void pty_on_poll(const struct pollfd *p)
{
	if (!g.active)
		return;
	if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
		if (ring_read(&g.in, g.outer) < 0)
			g.outer_eof = true; /* the user's terminal is gone: SIGHUP follows and is forwarded */
	}
	if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
		if (read_master() < 0) {
			g.master_eof = true; /* no process holds the pty any more */
			g.in.len = 0;
		}
	}
	if (g.in.len && !g.master_eof && ring_write(&g.in, g.master) < 0) {
		g.master_eof = true;
		g.in.len = 0;
	}
	if (g.out.len && !g.paused && ring_write(&g.out, g.outer) < 0)
		g.out.len = 0; /* the terminal is gone: nobody to show it to */
}

/* Write everything buffered (and, with drain_master, whatever the pty still holds) to the outer terminal,
 * waiting for it at most timeout_ms in all. */
static void flush_out(bool drain_master, int timeout_ms)
{
	uint64_t deadline = monotonic_us() + (uint64_t)timeout_ms * 1000u;
	for (;;) {
		if (drain_master && !g.master_eof && ring_room(&g.out)) {
			int r = read_master();
			if (r < 0)
				g.master_eof = true;
			else if (r == 0)
				drain_master = false; /* nothing more now: what comes later is not ours to wait for */
			continue;
		}
		if (!g.out.len)
			return;
		int r = ring_write(&g.out, g.outer);
		if (r < 0) {
			g.out.len = 0;
			return;
		}
		if (r == 0) {
			uint64_t now = monotonic_us();
			if (now >= deadline)
				return;
			struct pollfd pfd = { .fd = g.outer, .events = POLLOUT };
			poll(&pfd, 1, (int)((deadline - now) / 1000u) + 1);
		}
	}
}

/* Before the gate's own text (a question, the end lines): whatever the agent's output left open in the terminal
 * is ended, so that text is not read as part of it (red-team R58: after an unterminated `ESC]0;` the gate's
 * lines became the window title). CAN ends any escape sequence, control sequence or string in the VT500
 * parsers (xterm, xterm.js, VTE, alacritty) without acting on it; ST after it ends a string for a terminal that
 * keeps collecting through CAN, and is nothing in ground. What the filter holds back (an ESC, a C1 lead byte,
 * an OSC whose number is not known yet) was never written and stays held. The modes the agent set (colours,
 * character sets, the alternate screen) are the front end's to reset: it knows what it is about to draw. */
static void close_open(void)
{
	static const char close_seq[] = "\x18\x1b\\";
	uint64_t deadline = monotonic_us() + 500000u;
	size_t done = 0;
	while (done < sizeof(close_seq) - 1) {
		ssize_t w = write(g.outer, close_seq + done, sizeof(close_seq) - 1 - done);
		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return;
		uint64_t now = monotonic_us();
		if (now >= deadline)
			return;
		struct pollfd pfd = { .fd = g.outer, .events = POLLOUT };
		poll(&pfd, 1, (int)((deadline - now) / 1000u) + 1);
	}
	if (flt.st == F_OSC_PASS)
		flt.st = F_GROUND;
	else if (flt.st == F_OSC_PASS_ESC)
		flt.st = F_ESC;
	else if (flt.st == F_OSC_PASS_C2)
		flt.st = F_C2;
	flt.closing = false;
}

const char *pty_relay(void)
{
	if (g.active)
		return "own";
	return g.tty_fd[0] || g.tty_fd[1] || g.tty_fd[2] ? "shared" : "none";
}

void pty_pause(bool paused)
{
	if (!g.active || paused == g.paused)
		return;
	if (paused) {
		/* The broker asks the user on this terminal: show what the agent wrote so far, then the user's own
		 * mode; what was typed before the question is not an answer to it (tcflush(3) TCIFLUSH). */
		flush_out(false, 2000);
		close_open();
		g.paused = true;
		set_raw(false);
		tcflush(g.outer, TCIFLUSH);
	} else {
		g.paused = false;
		set_raw(true);
	}
}

void pty_winch(void)
{
	struct winsize ws;
	/* TIOCGWINSZ/TIOCSWINSZ (tty_ioctl(4)): the kernel sends SIGWINCH to the pty's foreground group. */
	if (g.active && ioctl(g.outer, TIOCGWINSZ, &ws) == 0)
		ioctl(g.master, TIOCSWINSZ, &ws);
}

void pty_continued(void)
{
	/* SIGCONT after a stop (the shell's `fg`): the shell put its own mode back meanwhile. */
	if (g.active && !g.paused) {
		g.raw = false;
		set_raw(true);
	}
}

void pty_finish(void)
{
	if (!g.active)
		return;
	g.paused = false;
	flush_out(true, 2000);
	close_open();
	pty_restore();
}
