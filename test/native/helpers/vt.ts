// A model of what a terminal shows, for tests that ask "did this text reach the screen, readable?" (red-team
// R58): the VT500 parser of xterm.js (src/common/parser/EscapeSequenceParser.ts, VT500_TRANSITION_TABLE: the
// "anywhere" C1 transitions, ESC/CAN/SUB/BEL ending a string, C0 ignored inside one) on UTF-8-decoded code
// points, plus the state that decides whether printed text can be read: SGR conceal and foreground = background,
// the G0/G1 character sets (DEC line drawing turns letters into glyphs) with SO/SI, and the alternate screen
// (whatever was printed there is gone once the terminal leaves it). Cursor movement and erasing are not
// modelled: "shown" means printed readable in ground state.
type State = 'ground' | 'esc' | 'escInt' | 'csi' | 'csiIgnore' | 'osc' | 'dcs' | 'dcsPass' | 'sos';

export class VtModel {
  private st: State = 'ground';
  private params = '';
  private inter = '';
  private oscData = '';
  private conceal = false;
  private fg: number | null = null;
  private bg: number | null = null;
  private g = ['B', 'B'];
  private gl = 0;
  private alt = false;
  /** Readable text printed on the normal screen (control characters other than \n dropped). */
  normal = '';
  /** Readable text printed on the alternate screen since the terminal last entered it. */
  altText = '';
  /** Readable text printed on either screen, all of it (what was on the screen at some point). */
  seen = '';
  /** Every OSC the terminal completed (ended by BEL/ST) or abandoned, as its data. */
  oscs: string[] = [];
  private pending = Buffer.alloc(0);

  /** Feed bytes as they reach the terminal (a string is taken as latin1 bytes, as node-pty's output is UTF-8 text: use feedText). */
  feedBytes(b: Buffer): void {
    const all = Buffer.concat([this.pending, b]);
    let i = 0;
    while (i < all.length) {
      const c = all[i]!;
      let cp: number;
      let len: number;
      if (c < 0x80) [cp, len] = [c, 1];
      else if (c >= 0xc2 && c < 0xe0) [cp, len] = [c & 0x1f, 2];
      else if (c >= 0xe0 && c < 0xf0) [cp, len] = [c & 0x0f, 3];
      else if (c >= 0xf0 && c < 0xf5) [cp, len] = [c & 0x07, 4];
      else [cp, len] = [0xfffd, 1];
      if (i + len > all.length) break; // wait for the rest
      let ok = true;
      for (let k = 1; k < len; k++) {
        const d = all[i + k]!;
        if ((d & 0xc0) !== 0x80) ok = false;
        cp = (cp << 6) | (d & 0x3f);
      }
      if (!ok) [cp, len] = [0xfffd, 1];
      this.codepoint(cp);
      i += len;
    }
    this.pending = all.subarray(i);
  }

  feedText(s: string): void {
    this.feedBytes(Buffer.from(s, 'utf8'));
  }

  /** What is readable on the screen the terminal shows now (the normal screen's, or the alternate's). */
  get current(): string {
    return this.alt ? this.altText : this.normal;
  }

  get onAltScreen(): boolean {
    return this.alt;
  }

  private codepoint(c: number): void {
    // "anywhere" transitions (C0 CAN/SUB, ESC, every C1) first, as the table's loop over all states.
    if (this.st === 'osc' && (c === 0x07 || c === 0x9c || c === 0x1b || c === 0x18 || c === 0x1a)) {
      this.oscs.push(this.oscData);
      if (c !== 0x18 && c !== 0x1a) this.oscDispatch(this.oscData);
      this.st = c === 0x1b ? 'esc' : 'ground';
      this.params = this.inter = '';
      return;
    }
    if (c === 0x18 || c === 0x1a || (c >= 0x80 && c <= 0x9f)) {
      this.params = this.inter = '';
      if (c === 0x9d) [this.st, this.oscData] = ['osc', ''];
      else if (c === 0x98 || c === 0x9e || c === 0x9f) this.st = 'sos';
      else if (c === 0x9b) this.st = 'csi';
      else if (c === 0x90) this.st = 'dcs';
      else this.st = 'ground';
      return;
    }
    if (c === 0x1b) {
      this.st = 'esc';
      this.params = this.inter = '';
      return;
    }
    const exec = c < 0x20;
    switch (this.st) {
      case 'ground':
        if (exec) return this.execute(c);
        if (c === 0x7f) return;
        return this.print(c);
      case 'esc':
        if (exec) return this.execute(c);
        if (c >= 0x20 && c < 0x30) [this.inter, this.st] = [String.fromCharCode(c), 'escInt'];
        else if (c === 0x5b) this.st = 'csi';
        else if (c === 0x5d) [this.st, this.oscData] = ['osc', ''];
        else if (c === 0x50) this.st = 'dcs';
        else if (c === 0x58 || c === 0x5e || c === 0x5f) this.st = 'sos';
        else if (c >= 0x30 && c < 0x7f) this.escDispatch('', c);
        else this.st = 'ground';
        return;
      case 'escInt':
        if (exec) return this.execute(c);
        if (c >= 0x20 && c < 0x30) this.inter += String.fromCharCode(c);
        else if (c >= 0x30 && c < 0x7f) this.escDispatch(this.inter, c);
        else this.st = 'ground';
        return;
      case 'csi':
        if (exec) return this.execute(c);
        if (c >= 0x30 && c < 0x40) this.params += String.fromCharCode(c);
        else if (c >= 0x20 && c < 0x30) this.inter += String.fromCharCode(c);
        else if (c >= 0x40 && c < 0x7f) this.csiDispatch(c);
        else if (c !== 0x7f) this.st = 'ground';
        return;
      case 'csiIgnore':
        if (exec) return this.execute(c);
        if (c >= 0x40 && c < 0x7f) this.st = 'ground';
        return;
      case 'osc':
        if (!exec) this.oscData += String.fromCodePoint(c);
        return;
      case 'dcs':
      case 'dcsPass':
        this.st = 'dcsPass';
        return;
      case 'sos':
        return;
    }
  }

  private execute(c: number): void {
    if (c === 0x0a) this.put('\n');
    else if (c === 0x0e) this.gl = 1;
    else if (c === 0x0f) this.gl = 0;
  }

  /** The dynamic colours (OSC 10/11 and their resets 110/111) and the palette (OSC 4, reset 104): text in
   *  the same colour as its background is not readable. */
  private defFg: string | null = null;
  private defBg: string | null = null;
  private palette = new Map<number, string>();

  private oscDispatch(data: string): void {
    const [num, ...rest] = data.split(';');
    if (num === '10' && rest[0] && rest[0] !== '?') this.defFg = rest[0];
    else if (num === '11' && rest[0] && rest[0] !== '?') this.defBg = rest[0];
    else if (num === '110') this.defFg = null;
    else if (num === '111') this.defBg = null;
    else if (num === '104') this.palette.clear();
    else if (num === '4') for (let i = 0; i + 1 < rest.length; i += 2) this.palette.set(Number(rest[i]), rest[i + 1]!);
  }

  private colour(n: number | null, which: 'fg' | 'bg'): string {
    if (n === null) return (which === 'fg' ? this.defFg : this.defBg) ?? `default-${which}`;
    return this.palette.get(n) ?? `palette-${n}`;
  }

  private print(c: number): void {
    const hidden = this.conceal || this.colour(this.fg, 'fg') === this.colour(this.bg, 'bg');
    const graphics = this.g[this.gl] === '0' && c >= 0x5f && c <= 0x7e;
    this.put(hidden || graphics ? '\u2592' : String.fromCodePoint(c));
  }

  private put(s: string): void {
    this.seen += s;
    if (this.alt) this.altText += s;
    else this.normal += s;
  }

  private escDispatch(inter: string, c: number): void {
    this.st = 'ground';
    const f = String.fromCharCode(c);
    if (inter === '(' || inter === ')') this.g[inter === '(' ? 0 : 1] = f;
    else if (inter === '' && f === 'c') this.reset(true);
  }

  private csiDispatch(c: number): void {
    this.st = 'ground';
    const f = String.fromCharCode(c);
    const p = this.params;
    if (f === 'm' && this.inter === '') this.sgr(p);
    else if (f === 'p' && this.inter === '!') this.reset(false);
    else if ((f === 'h' || f === 'l') && p.startsWith('?')) {
      for (const m of p.slice(1).split(';')) {
        if (m === '47' || m === '1047' || m === '1049') {
          if (f === 'h' && !this.alt) this.altText = '';
          this.alt = f === 'h';
        }
      }
    }
  }

  private sgr(p: string): void {
    const a = p === '' ? [0] : p.split(/[;:]/).map((x) => (x === '' ? 0 : Number(x)));
    for (let i = 0; i < a.length; i++) {
      const v = a[i]!;
      if (v === 0) [this.conceal, this.fg, this.bg] = [false, null, null];
      else if (v === 8) this.conceal = true;
      else if (v === 28) this.conceal = false;
      else if (v >= 30 && v <= 37) this.fg = v - 30;
      else if (v === 39) this.fg = null;
      else if (v >= 40 && v <= 47) this.bg = v - 40;
      else if (v === 49) this.bg = null;
      else if ((v === 38 || v === 48) && a[i + 1] === 5) {
        if (v === 38) this.fg = a[i + 2] ?? 0;
        else this.bg = a[i + 2] ?? 0;
        i += 2;
      } else if ((v === 38 || v === 48) && a[i + 1] === 2) i += 4;
    }
  }

  private reset(full: boolean): void {
    [this.conceal, this.fg, this.bg] = [false, null, null];
    this.g = ['B', 'B'];
    this.gl = 0;
    if (full) this.alt = false;
  }
}
