// R112: agent-controlled text in VS Code's notifications and tooltips must never become a link or an icon.
// The oracles are VS Code's own parsers, as VS Code 1.139.1 ships them (workbench.js): parseLinkedText's
// LINK_REGEX (src/vs/base/common/linkedText.ts) and renderLabelWithIcons' icon syntax (iconLabels.ts), and a
// CommonMark + GFM-linkify renderer for the Markdown tooltips.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { escapeForDisplay, markdownText, neutraliseLinks, quoteArg } from '../../../src/core/audit/display';

// markdown-it ships no types: only its constructor and render are used.
const MarkdownIt = createRequire(__filename)('markdown-it') as new (options: { html: boolean; linkify: boolean }) => { render(src: string): string };

const LINK_REGEX = /\[([^\]]+)\]\(((?:https?:\/\/|command:|file:)[^)\s]+)(?: (["'])(.+?)(\3))?\)/gi;
const ICON_REGEX = /(\\)?\$\(([A-Za-z0-9-]+(?:~[A-Za-z]+)?)\)/g;

/** What a notification shows for `text`: its links, its icons, and the words the user reads. */
function renderNotification(text: string): { links: string[]; icons: string[]; read: string } {
  const links: string[] = [];
  const icons: string[] = [];
  let read = '';
  let index = 0;
  const words = (s: string): string =>
    s.replace(ICON_REGEX, (_m, escaped: string | undefined, name: string) => {
      if (escaped) return `$(${name})`;
      icons.push(name);
      return '';
    });
  for (const m of text.matchAll(LINK_REGEX)) {
    read += words(text.slice(index, m.index));
    links.push(m[2] as string);
    read += m[1] as string;
    index = m.index + m[0].length;
  }
  return { links, icons, read: read + words(text.slice(index)) };
}

const LINK_FORMS = [
  '[Details](command:workbench.action.tasks.runTask?{"type":"npm","script":"x"})',
  '[Details](command:workbench.action.tasks.runTask?%7B%22type%22%3A%22npm%22%7D)',
  '[click](COMMAND:workbench.action.terminal.sendSequence)',
  '[site](https://example.com/x)',
  '[site](http://example.com/x)',
  '[site](HTTPS://example.com/x)',
  '[f](file:///etc/passwd)',
  '[v](vscode://vscode.git/clone?url=x)',
  '[titled](https://example.com "a title")',
  "[titled](command:x 'a title')",
  '[[nested](command:x)',
  '[a[b](command:x)',
  '[outer [inner](command:x)]',
  '\\[escaped](command:x)',
  '[a](command:x)[b](https://y)',
  'before [a](command:x) after',
];

describe('neutraliseLinks (notification text)', () => {
  it('the repro and every link form VS Code parses (and one it may parse later) render as no link', () => {
    for (const form of LINK_FORMS) {
      expect(renderNotification(form).links.length + renderNotification(`x ${form} y`).links.length, `the oracle does not see ${form} as a link`).toBeGreaterThan(form.includes('vscode:') ? -1 : 0);
      const out = renderNotification(neutraliseLinks(form));
      expect(out.links, form).toEqual([]);
      // The user reads the text with one visible mark: a backslash between "]" and "(".
      expect(out.read, form).toBe(form.replace(/\]\(/g, ']\\('));
      expect(unmark(out.read), form).toBe(form);
    }
  });

  it('a directory named like the red-team repro, as the approval notification shows it', () => {
    const cwd = `/work/ws/[Details](command:workbench.action.tasks.runTask?{"type":"npm","script":"x"})`;
    const message = `Agent Gate (Shell): allow git push? — bash → git · in ${quoteArg(cwd)} · rule ask-before-push: pushing`;
    expect(renderNotification(message).links).toEqual(['command:workbench.action.tasks.runTask?{"type":"npm","script":"x"}']);
    const shown = renderNotification(neutraliseLinks(message));
    expect(shown.links).toEqual([]);
    expect(shown.read).toContain(`in '/work/ws/[Details]\\(command:workbench.action.tasks.runTask?{"type":"npm","script":"x"})'`);
  });

  it('icon syntax shows as typed instead of becoming an icon that hides the words', () => {
    for (const t of ['rm -rf $(zap)', 'x$(check~spin)y', '$(shield) allowed', '\\$(x)']) {
      expect(renderNotification(t).icons.length, t).toBeGreaterThan(t.startsWith('\\') ? -1 : 0);
      const out = renderNotification(neutraliseLinks(t));
      expect(out.icons, t).toEqual([]);
      expect(out.read, t).toBe(t);
    }
  });

  it('leaves text without link or icon syntax exactly as it is', () => {
    for (const t of ['git push origin main', "'/tmp/a b/[x] (y)'", '[a] (command:x)', 'arr[0](', '$HOME $((1+2))', '$(a b)', '$(x~1)', 'a]b(c', escapeForDisplay(['echo', 'safe\u202e'])]) {
      expect(renderNotification(neutraliseLinks(t)).read, t).toBe(t.replace(/\]\(/g, ']\\('));
    }
    expect(neutraliseLinks('plain text, no syntax')).toBe('plain text, no syntax');
  });

  it('the mark is unambiguous: what is read decodes to the text, and different texts never read the same', () => {
    // quoteArg's single-quoted form shows a backslash that is really there as one backslash, so the
    // neutraliser doubles a backslash after "]" itself.
    const values = ['a](b', 'a]\\(b', 'a]\\\\(b', 'a]\\b', 'a]\\', 'a]$(x)', 'a]\\$(x)', '\\$(x)', 'a\\](b'];
    const reads = new Set<string>();
    for (const v of values) {
      const read = renderNotification(neutraliseLinks(quoteArg(v))).read;
      expect(renderNotification(neutraliseLinks(quoteArg(v))).links, v).toEqual([]);
      expect(unmark(read), v).toBe(quoteArg(v));
      reads.add(read);
    }
    expect(reads.size).toBe(values.length);
  });
});

/** How a reader decodes the mark: after "]", a backslash escapes the next character. */
function unmark(read: string): string {
  return read.replace(/\]\\([\\(])/g, ']$1');
}

describe('markdownText (tooltips)', () => {
  const md = new MarkdownIt({ html: true, linkify: true });
  const hostile = [
    '[Details](command:workbench.action.tasks.runTask?x)',
    '![img](https://example.com/i.png)',
    '<a href="command:x">x</a>',
    '<https://example.com>',
    'https://example.com/path',
    'www.example.com',
    'mail someone@example.com',
    '**bold** _em_ `code` ~~del~~',
    '# heading',
    '&amp; &#x41;',
    '[ref]\n\n[ref]: command:x',
    '$(zap) 1. item - item > quote | a | b |',
  ];
  it('renders no link, image or HTML, and shows exactly the characters given', () => {
    for (const t of hostile) {
      const html = md.render(markdownText(t));
      expect(html, t).not.toMatch(/<a |<img |<h1|<strong|<em>|<code|<blockquote|<ol|<ul|<table/);
      const text = html.replace(/<\/?p>|<br>|\n/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&');
      expect(text, t).toBe(t.replace(/\n/g, ''));
    }
  });
});
