/* Wire encode/decode: line framing, tokens, hex values, the CONFIG block. */
#include "proto.h"
#include "facts.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void lr_init(struct line_reader *r, int fd)
{
	r->fd = fd;
	r->cap = 1 << 16;
	r->buf = xmalloc(r->cap);
	r->start = r->len = 0;
}

ssize_t lr_fill(struct line_reader *r)
{
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->len - r->start);
		r->len -= r->start;
		r->start = 0;
	}
	if (r->len == r->cap) {
		if (r->cap > PROTO_MAX_LINE + 1) {
			errno = EMSGSIZE;
			return -1;
		}
		r->cap *= 2;
		r->buf = xrealloc(r->buf, r->cap);
	}
	for (;;) {
		ssize_t n = read(r->fd, r->buf + r->len, r->cap - r->len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0)
			r->len += (size_t)n;
		return n;
	}
}

char *lr_next(struct line_reader *r, bool *too_long)
{
	char *s = r->buf + r->start;
	char *nl = memchr(s, '\n', r->len - r->start);

	*too_long = false;
	if (!nl) {
		if (r->len - r->start > PROTO_MAX_LINE)
			*too_long = true;
		return NULL;
	}
	if ((size_t)(nl - s) > PROTO_MAX_LINE) {
		*too_long = true;
		return NULL;
	}
	*nl = '\0';
	r->start = (size_t)(nl - r->buf) + 1;
	return s;
}

char *lr_read_line(struct line_reader *r)
{
	for (;;) {
		bool too_long;
		char *line = lr_next(r, &too_long);

		if (line || too_long)
			return line;
		if (lr_fill(r) <= 0)
			return NULL;
	}
}

char *proto_type(char *line, char **cursor)
{
	char *sp = strchr(line, ' ');

	if (sp) {
		*sp = '\0';
		*cursor = sp + 1;
	} else {
		*cursor = line + strlen(line);
	}
	return line;
}

bool proto_next_token(char **cursor, struct token *t)
{
	char *p = *cursor;

	while (*p == ' ')
		p++;
	if (!*p)
		return false;
	char *end = strchr(p, ' ');
	if (end) {
		*end = '\0';
		*cursor = end + 1;
	} else {
		*cursor = p + strlen(p);
	}
	char *eq = strchr(p, '=');
	t->key = p;
	if (eq) {
		*eq = '\0';
		t->val = eq + 1;
		t->vlen = strlen(eq + 1);
	} else {
		t->val = NULL;
		t->vlen = 0;
	}
	return true;
}

bool proto_u64(const struct token *t, uint64_t *out)
{
	const char *s = t->val ? t->val : t->key;
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

char *proto_hex_dup(const struct token *t, size_t *len)
{
	if (!t->val)
		return NULL;
	char *out = xmalloc(t->vlen / 2 + 1);
	if (hex_decode(t->val, t->vlen, out) < 0) {
		free(out);
		return NULL;
	}
	out[t->vlen / 2] = '\0';
	if (len)
		*len = t->vlen / 2;
	return out;
}

static bool is_key(const struct token *t, const char *key)
{
	return t->val && strcmp(t->key, key) == 0;
}

static bool bool_val(const struct token *t, const char *line)
{
	uint64_t v;

	if (!proto_u64(t, &v) || v > 1)
		die("protocol error: %s: %s must be 0 or 1", line, t->key);
	return v == 1;
}

static void rights_val(const struct token *t, char out[6], const char *line)
{
	size_t n = 0;

	for (const char *p = t->val; *p; p++) {
		if (!strchr("rwxls", *p) || n >= 5)
			die("protocol error: %s: bad rights '%s'", line, t->val);
		out[n++] = *p;
	}
	out[n] = '\0';
}

static char *path_val(const struct token *t, const char *line)
{
	size_t len;
	char *p = proto_hex_dup(t, &len);

	if (!p || len == 0 || len >= PATH_MAX || memchr(p, '\0', len) || p[0] != '/')
		die("protocol error: %s: path must be an absolute path in hex", line);
	return p;
}

/* A resolver line's fields (NET_DNS, LOOPBACK_DNS): addr=<4 or 16 bytes in hex> port=<1..65535>. */
static struct dns_server dns_val(char **cur, const char *type)
{
	struct dns_server d = { 0 };
	struct token t;
	uint64_t port = 0;
	bool have_port = false;
	while (proto_next_token(cur, &t)) {
		if (is_key(&t, "addr")) {
			size_t len = 0;
			char *a = proto_hex_dup(&t, &len);
			if (!a || (len != 4 && len != 16))
				die("protocol error: %s addr must be 4 or 16 bytes in hex", type);
			d.family = len == 4 ? AF_INET : AF_INET6;
			memcpy(d.addr, a, len);
			free(a);
		} else if (is_key(&t, "port")) {
			have_port = proto_u64(&t, &port) && port > 0 && port <= 65535;
		}
	}
	if (!d.family || !have_port)
		die("protocol error: %s needs addr=<hex> port=<1..65535>", type);
	d.port = (uint16_t)port;
	return d;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void proto_read_config(struct line_reader *r, struct config *c)
{
	bool seen_config = false;

	memset(c, 0, sizeof(*c));
	c->timeout_allow = false;
	for (;;) {
		char *line = lr_read_line(r);
		char *cur;
		struct token t;

		if (!line)
			die("the broker closed the connection during the handshake");
		char *type = proto_type(line, &cur);
		if (!seen_config) {
			if (strcmp(type, "CONFIG") != 0)
				die("protocol error: expected CONFIG, got %s", type);
			if (!proto_next_token(&cur, &t) || strcmp(t.key, "1") != 0)
				die("protocol error: unsupported protocol version (this supervisor speaks version 1)");
			seen_config = true;
			continue;
		}
		if (strcmp(type, "START") == 0)
			return;
		if (strcmp(type, "FS") == 0) {
			struct grant g = { .rights = "", .path = NULL };
			while (proto_next_token(&cur, &t)) {
				if (is_key(&t, "rights"))
					rights_val(&t, g.rights, type);
				else if (is_key(&t, "path"))
					g.path = path_val(&t, type);
			}
			if (!g.path)
				die("protocol error: FS without path");
			c->grants = xrealloc(c->grants, (c->ngrants + 1) * sizeof(*c->grants));
			c->grants[c->ngrants++] = g;
		} else if (strcmp(type, "FS_HANDLED") == 0) {
			c->fs_handled_set = true;
			while (proto_next_token(&cur, &t))
				if (is_key(&t, "rights"))
					rights_val(&t, c->fs_handled, type);
		} else if (strcmp(type, "NET_HANDLED") == 0) {
			c->net_handled_set = true;
			while (proto_next_token(&cur, &t)) {
				if (is_key(&t, "connect"))
					c->net_connect = bool_val(&t, type);
				else if (is_key(&t, "bind"))
					c->net_bind = bool_val(&t, type);
			}
		} else if (strcmp(type, "NET") == 0) {
			struct net_port p = { 0, false, false };
			uint64_t port = 0;
			bool have_port = false;
			while (proto_next_token(&cur, &t)) {
				if (is_key(&t, "port"))
					have_port = proto_u64(&t, &port) && port <= 65535;
				else if (is_key(&t, "connect"))
					p.connect = bool_val(&t, type);
				else if (is_key(&t, "bind"))
					p.bind = bool_val(&t, type);
			}
			if (!have_port)
				die("protocol error: NET needs port=<0..65535>");
			p.port = (uint16_t)port;
			c->ports = xrealloc(c->ports, (c->nports + 1) * sizeof(*c->ports));
			c->ports[c->nports++] = p;
		} else if (strcmp(type, "REQUIRE") == 0) {
			while (proto_next_token(&cur, &t)) {
				if (is_key(&t, "fs"))
					c->require_fs = bool_val(&t, type);
				else if (is_key(&t, "net"))
					c->require_net = bool_val(&t, type);
				else if (is_key(&t, "unix"))
					c->require_unix = bool_val(&t, type);
			}
		} else if (strcmp(type, "TIMEOUT") == 0) {
			while (proto_next_token(&cur, &t)) {
				uint64_t ms;
				if (is_key(&t, "ms")) {
					if (!proto_u64(&t, &ms) || ms > 86400000u)
						die("protocol error: TIMEOUT ms out of range");
					c->timeout_ms = (unsigned)ms;
				} else if (is_key(&t, "action")) {
					if (strcmp(t.val, "allow") == 0)
						c->timeout_allow = true;
					else if (strcmp(t.val, "deny") == 0)
						c->timeout_allow = false;
					else
						die("protocol error: TIMEOUT action must be allow or deny");
				}
			}
		} else if (strcmp(type, "RECORDS") == 0) {
			c->records = true;
		} else if (strcmp(type, "PROTECT") == 0) {
			while (proto_next_token(&cur, &t)) {
				if (!is_key(&t, "path"))
					continue;
				c->protect = xrealloc(c->protect, (c->nprotect + 1) * sizeof(char *));
				c->protect[c->nprotect++] = path_val(&t, type);
			}
		} else if (strcmp(type, "LEFTOVERS") == 0) {
			while (proto_next_token(&cur, &t))
				if (is_key(&t, "keep"))
					c->keep_leftovers = bool_val(&t, type);
		} else if (strcmp(type, "JSON_RECORDS") == 0) {
			while (proto_next_token(&cur, &t)) {
				if (!is_key(&t, "session"))
					continue;
				size_t len;
				char *id = proto_hex_dup(&t, &len);
				if (!id || len == 0 || len > 256 || memchr(id, '\0', len))
					die("protocol error: JSON_RECORDS session must be 1-256 bytes in hex");
				struct buf js = { 0 };
				buf_json_str(&js, id, len);
				buf_put(&js, "", 1);
				free(id);
				free(c->session_json);
				c->session_json = js.p;
			}
		} else if (strcmp(type, "NET_DNS") == 0) {
			c->dns = xrealloc(c->dns, (c->ndns + 1) * sizeof(*c->dns));
			c->dns[c->ndns++] = dns_val(&cur, type);
		} else if (strcmp(type, "LOOPBACK_SEALED") == 0) {
			c->loopback_sealed = true;
		} else if (strcmp(type, "LOOPBACK_PORT") == 0) {
			struct net_port p = { 0, false, false };
			uint64_t port = 0;
			bool have_port = false;
			while (proto_next_token(&cur, &t)) {
				if (is_key(&t, "port"))
					have_port = proto_u64(&t, &port) && port > 0 && port <= 65535;
				else if (is_key(&t, "connect"))
					p.connect = bool_val(&t, type);
				else if (is_key(&t, "accept"))
					p.bind = bool_val(&t, type);
			}
			if (!have_port)
				die("protocol error: LOOPBACK_PORT needs port=<1..65535>");
			p.port = (uint16_t)port;
			c->loop_ports = xrealloc(c->loop_ports, (c->nloop_ports + 1) * sizeof(*c->loop_ports));
			c->loop_ports[c->nloop_ports++] = p;
		} else if (strcmp(type, "LOOPBACK_DNS") == 0) {
			c->loop_dns = xrealloc(c->loop_dns, (c->nloop_dns + 1) * sizeof(*c->loop_dns));
			c->loop_dns[c->nloop_dns++] = dns_val(&cur, type);
		} else if (strcmp(type, "UNIX_SEALED") == 0) {
			c->unix_sealed = true;
		} else if (strcmp(type, "UNIX_GRANT") == 0) {
			while (proto_next_token(&cur, &t)) {
				if (!is_key(&t, "path"))
					continue;
				c->unix_grants = xrealloc(c->unix_grants, (c->nunix_grants + 1) * sizeof(char *));
				c->unix_grants[c->nunix_grants++] = path_val(&t, type);
			}
		} else if (strcmp(type, "HASH_SIZES") == 0) {
			c->hash_sizes_set = true;
			while (proto_next_token(&cur, &t)) {
				uint64_t v;
				if (!is_key(&t, "size"))
					continue;
				if (!proto_u64(&t, &v))
					die("protocol error: HASH_SIZES size must be a decimal integer");
				c->hash_sizes = xrealloc(c->hash_sizes, (c->nhash_sizes + 1) * sizeof(uint64_t));
				c->hash_sizes[c->nhash_sizes++] = v;
			}
			qsort(c->hash_sizes, c->nhash_sizes, sizeof(uint64_t), cmp_u64);
		} else if (strcmp(type, "ARGV") == 0) {
			/* The agent's command line, bytes as the user typed them: the broker's runtime cannot put bytes
			 * that are not UTF-8 on our own command line without changing them. */
			if (c->argv)
				die("protocol error: a second ARGV line");
			while (proto_next_token(&cur, &t)) {
				if (!is_key(&t, "arg"))
					continue;
				size_t len;
				char *a = proto_hex_dup(&t, &len);
				if (!a || memchr(a, '\0', len))
					die("protocol error: ARGV arg must be hex without NUL bytes");
				c->argv = xrealloc(c->argv, (c->nargv + 2) * sizeof(char *));
				c->argv[c->nargv++] = a;
				c->argv[c->nargv] = NULL;
			}
			if (c->nargv == 0)
				die("protocol error: ARGV without arg=");
		} else if (strcmp(type, "ENV_UNSET") == 0 || strcmp(type, "ENV_SET") == 0) {
			/* The agent's environment ([env] in the policy, decided by the broker): names and values are the
			 * raw bytes, so nothing is re-encoded on the way. A name is non-empty without '=' or NUL; a
			 * value has no NUL (an environment string cannot hold one). */
			char *name = NULL, *value = NULL;
			size_t nlen = 0, vlen = 0;
			while (proto_next_token(&cur, &t)) {
				if (is_key(&t, "name") && !name)
					name = proto_hex_dup(&t, &nlen);
				else if (is_key(&t, "value") && !value)
					value = proto_hex_dup(&t, &vlen);
			}
			bool set = type[4] == 'S';
			if (!name || nlen == 0 || memchr(name, '\0', nlen) || memchr(name, '=', nlen) ||
			    (set && (!value || memchr(value, '\0', vlen))))
				die("protocol error: %s needs name=<hex> without '=' or NUL%s", type, set ? " and value=<hex>" : "");
			if (set) {
				char *entry = xmalloc(nlen + vlen + 2);
				memcpy(entry, name, nlen);
				entry[nlen] = '=';
				memcpy(entry + nlen + 1, value, vlen);
				entry[nlen + 1 + vlen] = '\0';
				free(name);
				c->env_set = xrealloc(c->env_set, (c->nenv_set + 1) * sizeof(char *));
				c->env_set[c->nenv_set++] = entry;
			} else {
				c->env_unset = xrealloc(c->env_unset, (c->nenv_unset + 1) * sizeof(char *));
				c->env_unset[c->nenv_unset++] = name;
			}
			free(value);
		} else if (strcmp(type, "AUDIT") == 0) {
			struct audit_config *a = &c->audit;
			uint64_t v;
			while (proto_next_token(&cur, &t)) {
				if (is_key(&t, "path"))
					a->path = path_val(&t, type);
				else if (is_key(&t, "head_file"))
					a->head_file = path_val(&t, type);
				else if (is_key(&t, "dev") && proto_u64(&t, &v))
					a->dev = v;
				else if (is_key(&t, "ino") && proto_u64(&t, &v))
					a->ino = v;
				else if (is_key(&t, "reserve") && proto_u64(&t, &v))
					a->reserve = v;
				else if (is_key(&t, "require_reserve"))
					a->require_reserve = bool_val(&t, type);
			}
			if (!a->path)
				die("protocol error: AUDIT without path");
		} else if (strcmp(type, "REDACT") == 0) {
			while (proto_next_token(&cur, &t)) {
				if (!is_key(&t, "lit"))
					continue;
				size_t len;
				char *lit = proto_hex_dup(&t, &len);
				if (!lit || len == 0 || memchr(lit, '\0', len))
					die("protocol error: REDACT lit must be 1 or more bytes in hex");
				c->audit.redact = xrealloc(c->audit.redact, (c->audit.nredact + 1) * sizeof(char *));
				c->audit.redact[c->audit.nredact++] = lit;
			}
		} else if (strcmp(type, "HASH_UNDER") == 0) {
			while (proto_next_token(&cur, &t)) {
				if (!is_key(&t, "path"))
					continue;
				char *p = path_val(&t, type);
				size_t n = strlen(p);
				while (n > 1 && p[n - 1] == '/')
					p[--n] = '\0';
				c->hash_under = xrealloc(c->hash_under, (c->nhash_under + 1) * sizeof(char *));
				c->hash_under[c->nhash_under++] = p;
			}
		} else {
			die("protocol error: unexpected message %s in the CONFIG block", type);
		}
	}
}

int proto_send(int fd, const struct buf *line)
{
	return write_all(fd, line->p, line->len);
}

static void file_fields(struct buf *b, const char *prefix, const char *name, const struct file_facts *ff)
{
	buf_printf(b, " %s=", name);
	buf_hex(b, ff->path, ff->path_len);
	buf_printf(b, " %sdev=%llu %sino=%llu %ssize=%llu %snlink=%llu", prefix, (unsigned long long)ff->id.dev, prefix,
		   (unsigned long long)ff->id.ino, prefix, (unsigned long long)ff->id.size, prefix,
		   (unsigned long long)ff->nlink);
	if (ff->has_sha) {
		buf_printf(b, " %ssha256=", prefix);
		buf_hex(b, ff->sha, 32);
	}
	if (ff->has_prefix) {
		buf_printf(b, " %sprefix_size=%llu %sprefix_sha256=", prefix, (unsigned long long)ff->prefix_size, prefix);
		buf_hex(b, ff->prefix_sha, 32);
	}
}

static void list_field(struct buf *b, const char *key, const struct buf *list)
{
	const char *p = list->p, *end = list->p + list->len;

	size_t klen = strlen(key);

	while (p && p < end) {
		size_t n = strlen(p);
		buf_put(b, " ", 1);
		buf_put(b, key, klen);
		buf_put(b, "=", 1);
		buf_hex(b, p, n);
		p += n + 1;
	}
}

void proto_exec_line(struct buf *b, const struct exec_facts *f, const char *cached, uint64_t lat_us, uint64_t piped)
{
	buf_printf(b, "EXEC id=%llu tid=%d pid=%d ppid=%d uid=%llu sc=%s flags=%llu path=", (unsigned long long)f->id,
		   (int)f->tid, (int)f->pid, (int)f->ppid, (unsigned long long)f->uid,
		   f->execveat ? "execveat" : "execve", (unsigned long long)f->flags);
	buf_hex(b, f->path, f->path_len);
	buf_puts(b, " cwd=");
	buf_hex(b, f->cwd, f->cwd_len);
	if (f->exe.present)
		file_fields(b, "", "exe", &f->exe);
	list_field(b, "argv", &f->argv);
	if (f->argv_trunc)
		buf_puts(b, " argv_trunc=1");
	if (f->has_parent) {
		buf_puts(b, " pexe=");
		buf_hex(b, f->pexe, f->pexe_len);
		list_field(b, "pargv", &f->pargv);
	}
	for (size_t i = 0; i < f->nlevels; i++) {
		/* One group per interpreter, in order: interp= starts it, the interp_* keys after it belong to it. */
		const struct level *lv = &f->levels[i];
		file_fields(b, "interp_", "interp", &lv->ff);
		buf_puts(b, lv->kind == LEVEL_SCRIPT ? " interp_kind=script" : lv->kind == LEVEL_MISC ? " interp_kind=misc" : " interp_kind=elf");
		if (lv->preserve_argv0)
			buf_puts(b, " interp_p=1");
		buf_puts(b, " interp_name=");
		buf_hex(b, lv->name, lv->name_len);
		if (lv->has_arg) {
			buf_puts(b, " interp_arg=");
			buf_hex(b, lv->arg, lv->arg_len);
		}
	}
	if (f->ld.present)
		file_fields(b, "ld_", "ld", &f->ld);
	if (f->ld_unresolved) {
		buf_puts(b, " ld_unresolved=");
		buf_hex(b, f->ld_why, strlen(f->ld_why));
	}
	buf_printf(b, " t=%llu", (unsigned long long)f->t);
	if (cached)
		buf_printf(b, " cached=%s lat=%llu", cached, (unsigned long long)lat_us);
	if (piped)
		buf_printf(b, " piped=%llu", (unsigned long long)piped);
	buf_put(b, "\n", 1);
}

/* Length of the valid UTF-8 sequence at s[i] (of n bytes), 0 when the byte there does not start one: the
 * same rules as utf8SeqLen in src/core/exec/facts.ts (no overlongs, no surrogates, nothing past U+10FFFF). */
static size_t utf8_seq_len(const unsigned char *s, size_t i, size_t n)
{
	unsigned c = s[i];
	size_t len;
	uint32_t min, cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (i + len > n)
		return 0;
	cp = c & (0xffu >> (len + 1));
	for (size_t k = 1; k < len; k++) {
		unsigned cc = s[i + k];
		if ((cc & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (cc & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static const char HEXDIGITS[] = "0123456789abcdef";

void buf_json_str(struct buf *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;

	buf_reserve(b, n * 6 + 2); /* the worst case: every byte a \uXXXX escape */
	char *o = b->p + b->len;
	*o++ = '"';
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			*o++ = (char)c;
			i++;
			continue;
		}
		if (c >= 0x80) {
			size_t len = utf8_seq_len(s, i, n);
			if (len) {
				memcpy(o, s + i, len);
				o += len;
				i += len;
			} else {
				/* bytesToText's U+DC00+byte, a lone surrogate: JSON.stringify writes \udcXX */
				memcpy(o, "\\udc", 4);
				o[4] = HEXDIGITS[c >> 4];
				o[5] = HEXDIGITS[c & 15];
				o += 6;
				i++;
			}
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '\b': *o++ = 'b'; break;
		case '\t': *o++ = 't'; break;
		case '\n': *o++ = 'n'; break;
		case '\f': *o++ = 'f'; break;
		case '\r': *o++ = 'r'; break;
		default:
			memcpy(o, "u00", 3);
			o[3] = HEXDIGITS[c >> 4];
			o[4] = HEXDIGITS[c & 15];
			o += 5;
		}
		i++;
	}
	*o++ = '"';
	b->len = (size_t)(o - b->p);
}

static void buf_u64(struct buf *b, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	buf_reserve(b, n);
	while (n)
		b->p[b->len++] = tmp[--n];
}

static void buf_digits(struct buf *b, unsigned v, int width)
{
	buf_reserve(b, (size_t)width);
	for (int k = width - 1; k >= 0; k--) {
		b->p[b->len + (size_t)k] = (char)('0' + v % 10);
		v /= 10;
	}
	b->len += (size_t)width;
}

/* The current time as Date.prototype.toISOString writes it: 2026-11-21T11:11:21.309Z. */
void buf_iso_time(struct buf *b)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	buf_digits(b, (unsigned)(tm.tm_year + 1900), 4);
	buf_put(b, "-", 1);
	buf_digits(b, (unsigned)tm.tm_mon + 1, 2);
	buf_put(b, "-", 1);
	buf_digits(b, (unsigned)tm.tm_mday, 2);
	buf_put(b, "T", 1);
	buf_digits(b, (unsigned)tm.tm_hour, 2);
	buf_put(b, ":", 1);
	buf_digits(b, (unsigned)tm.tm_min, 2);
	buf_put(b, ":", 1);
	buf_digits(b, (unsigned)tm.tm_sec, 2);
	buf_put(b, ".", 1);
	buf_digits(b, (unsigned)(ts.tv_nsec / 1000000), 3);
	buf_put(b, "Z", 1);
}

void proto_record_line(struct buf *b, const struct exec_facts *f, bool allow, uint64_t lat_us, const char *session_json,
		       const char *origin, size_t origin_len)
{
	buf_puts(b, allow ? "RECORD allow " : "RECORD deny ");
	proto_record_json(b, f, allow, lat_us, session_json, origin, origin_len);
	buf_put(b, "\n", 1);
}

void proto_record_json(struct buf *b, const struct exec_facts *f, bool allow, uint64_t lat_us, const char *session_json,
		       const char *origin, size_t origin_len)
{
	buf_puts(b, "{\"type\":\"decision\",\"time\":\"");
	buf_iso_time(b);
	buf_puts(b, "\",\"session\":");
	buf_puts(b, session_json);
	buf_puts(b, ",\"request\":");
	buf_u64(b, f->id);
	buf_puts(b, ",\"pid\":");
	buf_u64(b, (uint64_t)f->pid);
	buf_puts(b, ",\"ppid\":");
	buf_u64(b, (uint64_t)f->ppid);
	buf_puts(b, ",\"tid\":");
	buf_u64(b, (uint64_t)f->tid);
	buf_puts(b, ",\"exe_requested\":");
	buf_json_str(b, f->path, f->path_len);
	buf_puts(b, ",\"exe\":");
	buf_json_str(b, f->exe.path, f->exe.path_len);
	buf_puts(b, ",\"argv\":[");
	const char *p = f->argv.p, *end = f->argv.p + f->argv.len;
	for (bool first = true; p && p < end; first = false) {
		size_t n = strlen(p);
		if (!first)
			buf_put(b, ",", 1);
		buf_json_str(b, p, n);
		p += n + 1;
	}
	buf_puts(b, "],\"cwd\":");
	buf_json_str(b, f->cwd, f->cwd_len);
	buf_puts(b, allow ? ",\"verdict\":\"allow\"," : ",\"verdict\":\"deny\",");
	buf_put(b, origin, origin_len);
	buf_puts(b, ",\"latency_us\":");
	buf_u64(b, lat_us);
	buf_puts(b, ",\"cached\":true");
	if (f->exe.has_sha) {
		buf_puts(b, ",\"sha256\":\"");
		buf_hex(b, f->exe.sha, 32);
		buf_put(b, "\"", 1);
	}
	if (f->argv_trunc)
		buf_puts(b, ",\"argv_truncated\":true");
	buf_put(b, "}", 1);
}
