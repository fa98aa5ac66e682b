// What the gate writes before its own text on a terminal the agent wrote to (red-team R58). The agent's output
// can leave the terminal inside a string (a title it never ended: the gate's lines become the title), inside a
// control sequence (the gate's first characters become its parameters), or in a mode that makes text
// unreadable (concealed, foreground = background, DEC line drawing in G0 or shifted-out G1, the alternate screen,
// which is thrown away when something leaves it). One definition for every front end: the CLI writes it before
// its lines on a terminal, VS Code's guarded terminal before its lines (src/extension/terminal/gated-process.ts).

/** Ends whatever is open: CAN aborts a sequence or string in the VT500 parsers (xterm, xterm.js, VTE,
 *  alacritty); ST ends a string for a terminal that collects through CAN, and is nothing in ground. */
export const CLOSE_OPEN = '\x18\x1b\\';

/** Before a gate line while the agent runs and may draw again: what is open is ended, and colours and
 *  character sets made plain (SGR 0, G0 = ASCII, SI; the palette and the default foreground, background and
 *  cursor colours the agent may set with OSC 4/10/11/12 — foreground = background hides text even after SGR 0,
 *  red-team R68 — back to the user's: OSC 104, 110, 111, 112). Modes a running program relies on (cursor keys,
 *  bracketed paste, the alternate screen, margins) are left alone: resetting them would break its display. */
export const GATE_LINE_START = `${CLOSE_OPEN}\x1b[0m\x1b(B\x0f\x1b]104\x07\x1b]110\x07\x1b]111\x07\x1b]112\x07`;

/** Before the gate's last lines, once the agent is gone: also the alternate screen left (1047: no cursor
 *  restore, nothing when on the normal screen), a soft reset (DECSTR: margins, origin mode, insert mode,
 *  character sets, attributes; the cursor does not move), the cursor shown and autowrap on. */
export const GATE_END_START = `${GATE_LINE_START}\x1b[?1047l\x1b[!p\x1b[0m\x1b(B\x0f\x1b[?25h\x1b[?7h`;
