/*
** bench/bench_codec.c: speed and size of the protocol frame codec
** (core/codec.h, docs/protocol.md "Rows").
**
** Prints two tables:
**  1. encode and decode rates of CHANGES pages of 1,000 contacts rows
**     (rows/s, MB/s), each row the 11 columns of contacts and deleted;
**  2. wire bytes per row of one such page against the same rows as JSON
**     (objects keyed by column name, jsonb and text[] columns embedded as
**     JSON, versions as 48-digit hex strings in a per-row "versions" object),
**     and against msgpack without the per-row version dictionary.  The
**     target (issue 4) is at most 0.7 of JSON's bytes.
**
** The rows are realistic and deterministic: UUIDv7-shaped ids, names,
** e-mails, phones, companies, tags, metadata, timestamps; 70% were written
** once (one version), 30% later updated in two to four columns by other
** nodes.  Usage: bench_codec [pages]  (default 200).  Build without
** sanitizers for meaningful rates.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clientflow.h"
#include "core/codec.h"
#include "core/crypto.h"
#include "core/schema.h"
#include "platform/platform.h"

#define PAGE 1000

/* Storage for the text of the generated rows (the rows borrow it). */
typedef struct gen {
  char text[PAGE][12][96]; /* per row, per cell */
  uint64_t rng;            /* splitmix64 state */
} gen;

static uint64_t rnd(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void uuid7(uint64_t *s, uint64_t ms, char out[37]) {
  uint64_t a = rnd(s), b = rnd(s);
  char tmp[64];
  snprintf(tmp, sizeof tmp, "%08llx-%04llx-7%03llx-%04llx-%012llx",
           (unsigned long long)((ms >> 16) & 0xffffffffull),
           (unsigned long long)(ms & 0xffff), (unsigned long long)(a & 0xfff),
           (unsigned long long)(0x8000 | ((a >> 12) & 0x3fff)),
           (unsigned long long)(b & 0xffffffffffffull));
  memcpy(out, tmp, 36);
  out[36] = '\0';
}

static cf_ver make_ver(uint64_t hlc, const unsigned char node[16]) {
  cf_ver v;
  for (int i = 0; i < 8; i++)
    v.b[i] = (unsigned char)(hlc >> (56 - 8 * i));
  memcpy(v.b + 8, node, 16);
  return v;
}

static void set(cf_row *row, unsigned c, const char *s, const cf_ver *v) {
  row->present |= CF_COL_BIT(c);
  row->cells[c].value = s ? cf__value_text(s, strlen(s)) : cf__value_null();
  if (v != NULL) row->cells[c].ver = *v;
}

static void time_text(uint64_t ms, char out[96]);

static void make_rows(gen *g, cf_row *rows) {
  static const char *const firsts[] = {"Ann",   "Bob",   "Chen",      "Dana",
                                       "Émile", "Farah", "Gustavo",   "Hiroshi",
                                       "Ines",  "Jamal", "Katarzyna", "Liam"};
  static const char *const lasts[] = {"Lovelace", "Okafor",   "Nguyen", "Schmidt",
                                      "García",   "Kowalski", "Smith",  "Tanaka",
                                      "Haddad",   "O'Brien"};
  static const char *const companies[] = {"Analytical Engines Ltd",
                                          "Acme Corp",
                                          "Globex",
                                          "Initech",
                                          "Umbrella Health",
                                          "Stark Industries",
                                          "Wayne Enterprises",
                                          "Hooli"};
  static const char *const tags[] = {"[]", "[\"vip\"]", "[\"lead\",\"q4\"]",
                                     "[\"customer\",\"renewal\",\"emea\"]"};
  static const char *const metas[] = {"{}", "{\"source\":\"web\"}",
                                      "{\"source\":\"referral\",\"score\":72}",
                                      "{\"linkedin\":\"https://linkedin.com/in/x\"}"};
  unsigned char nodes[4][16];
  for (int n = 0; n < 4; n++)
    for (int i = 0; i < 16; i++)
      nodes[n][i] = (unsigned char)rnd(&g->rng);
  const cf_table *t = cf__schema_table_by_name("contacts");
  char org[37];
  uint64_t base_ms = 1764345600000ull;
  uuid7(&g->rng, base_ms - 86400000ull * 400, org);
  for (unsigned i = 0; i < PAGE; i++) {
    cf_row *row = &rows[i];
    char(*tx)[96] = g->text[i];
    uint64_t created =
        base_ms - 86400000ull * (rnd(&g->rng) % 365) - rnd(&g->rng) % 86400000;
    memset(row, 0, sizeof *row);
    row->table = t;
    cf_ver v0 = make_ver(created << 16, nodes[rnd(&g->rng) % 4]);
    const char *first = firsts[rnd(&g->rng) % 12], *last = lasts[rnd(&g->rng) % 10];
    snprintf(tx[0], 96, "%s", org);
    uuid7(&g->rng, created, tx[1]);
    snprintf(tx[2], 96, "%s", first);
    snprintf(tx[3], 96, "%s", last);
    snprintf(tx[4], 96, "%c.%s%u@example.com", first[0] | 0x20, "contact", i);
    snprintf(tx[5], 96, "+1 555 %03u %04u", (unsigned)(rnd(&g->rng) % 1000),
             (unsigned)(rnd(&g->rng) % 10000));
    snprintf(tx[6], 96, "%s", companies[rnd(&g->rng) % 8]);
    snprintf(tx[7], 96, "%s", tags[rnd(&g->rng) % 4]);
    snprintf(tx[8], 96, "%s", metas[rnd(&g->rng) % 4]);
    time_text(created, tx[9]);
    time_text(created, tx[10]);
    set(row, 0, tx[0], NULL);
    set(row, 1, tx[1], NULL);
    for (unsigned c = 2; c <= 10; c++)
      set(row, c, (c == 5 && i % 7 == 0) ? NULL : tx[c], &v0);
    row->present |= CF_COL_BIT(t->ncols);
    row->cells[t->ncols].value = cf__value_int(0);
    row->cells[t->ncols].ver = v0;
    if (rnd(&g->rng) % 10 < 3) { /* later updates by other nodes */
      unsigned nup = 2 + (unsigned)(rnd(&g->rng) % 3);
      uint64_t when = created + 3600000ull * (1 + rnd(&g->rng) % 500);
      for (unsigned u = 0; u < nup; u++) {
        cf_ver vu = make_ver((when + u * 60000ull) << 16, nodes[rnd(&g->rng) % 4]);
        unsigned c = 2 + (unsigned)(rnd(&g->rng) % 8);
        row->cells[c].ver = vu;
        row->cells[10].ver = vu; /* updated_at moves with every update */
        time_text(when + u * 60000ull, tx[10]);
      }
    }
  }
}

/* Canonical timestamptz text of ms since the epoch (no library call, so the
** bench stays independent of core/value.c's formatter). */
static void time_text(uint64_t ms, char out[96]) {
  int64_t days = (int64_t)(ms / 86400000ull), rem = (int64_t)(ms % 86400000ull);
  /* civil from days (Howard Hinnant's algorithm) */
  int64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) y++;
  snprintf(out, 96, "%04d-%02d-%02dT%02d:%02d:%02d.%03d000Z", (int)y, (int)m, (int)d,
           (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
           (int)(rem % 1000));
}

/* ---- the JSON baseline ------------------------------------------------------ */

static int json_str(cf_buf *b, const char *p, size_t n) {
  int rc = cf__buf_putc(b, '"');
  for (size_t i = 0; i < n && rc == CF_OK; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c == '"' || c == '\\') {
      char esc[2] = {'\\', (char)c};
      rc = cf__buf_append(b, esc, 2);
    } else if (c < 0x20) {
      char esc[8];
      snprintf(esc, sizeof esc, "\\u%04x", c);
      rc = cf__buf_puts(b, esc);
    } else {
      rc = cf__buf_putc(b, (char)c);
    }
  }
  return rc == CF_OK ? cf__buf_putc(b, '"') : rc;
}

static int json_row(cf_buf *b, const cf_row *row) {
  const cf_table *t = row->table;
  char tmp[64];
  int rc = cf__buf_puts(b, "{\"table\":\"contacts\",\"row\":{");
  int first = 1;
  for (unsigned c = 0; c <= t->ncols && rc == CF_OK; c++) {
    if (!(row->present & CF_COL_BIT(c))) continue;
    const char *name = c < t->ncols ? t->cols[c].name : "deleted";
    const cf_value *v = &row->cells[c].value;
    snprintf(tmp, sizeof tmp, "%s\"%s\":", first ? "" : ",", name);
    first = 0;
    rc = cf__buf_puts(b, tmp);
    if (rc != CF_OK) break;
    if (c == t->ncols)
      rc = cf__buf_puts(b, v->i ? "true" : "false");
    else if (v->kind == CF_VALUE_NULL)
      rc = cf__buf_puts(b, "null");
    else if (t->cols[c].type == CF_TYPE_JSONB || t->cols[c].type == CF_TYPE_TEXT_ARRAY)
      rc = cf__buf_append(b, v->p, v->n); /* already JSON */
    else
      rc = json_str(b, v->p, v->n);
  }
  if (rc == CF_OK) rc = cf__buf_puts(b, "},\"versions\":{");
  first = 1;
  for (unsigned c = 0; c <= t->ncols && rc == CF_OK; c++) {
    if (!(row->present & CF_COL_BIT(c)) || (t->key_mask & CF_COL_BIT(c))) continue;
    const char *name = c < t->ncols ? t->cols[c].name : "deleted";
    char hex[2 * CF_VER_LEN + 1];
    cf__hex(row->cells[c].ver.b, CF_VER_LEN, hex);
    snprintf(tmp, sizeof tmp, "%s\"%s\":\"", first ? "" : ",", name);
    first = 0;
    rc = cf__buf_puts(b, tmp);
    if (rc == CF_OK) rc = cf__buf_puts(b, hex);
    if (rc == CF_OK) rc = cf__buf_putc(b, '"');
  }
  return rc == CF_OK ? cf__buf_puts(b, "}}") : rc;
}

static int json_page(cf_buf *b, const cf_row *rows, size_t n) {
  int rc = cf__buf_puts(b, "{\"type\":\"changes\",\"last_seq\":123456,\"more\":true,"
                           "\"head_seq\":987654,\"rows\":[");
  for (size_t i = 0; i < n && rc == CF_OK; i++) {
    if (i > 0) rc = cf__buf_putc(b, ',');
    if (rc == CF_OK) rc = json_row(b, &rows[i]);
  }
  return rc == CF_OK ? cf__buf_puts(b, "]}") : rc;
}

/* Bytes the versions of row would take as one bin24 per versioned cell
** instead of the dictionary + index layout (for the comparison line). */
static long naive_delta(const cf_row *row) {
  const cf_table *t = row->table;
  uint64_t data = row->present & ~t->key_mask;
  unsigned nver = (unsigned)__builtin_popcountll(data), k = 0;
  const cf_ver *dict[CF_ROW_MAX_CELLS];
  for (unsigned c = 0; c <= t->ncols; c++) {
    if (!(data & CF_COL_BIT(c))) continue;
    unsigned j;
    for (j = 0; j < k; j++)
      if (memcmp(dict[j]->b, row->cells[c].ver.b, CF_VER_LEN) == 0) break;
    if (j == k) dict[k++] = &row->cells[c].ver;
  }
  long ours = 1 + 26L * k + (k <= 1 ? 1 : 2 + nver);
  long naive = 1 + 26L * nver; /* array of bins, no index */
  return naive - ours;
}

int main(int argc, char **argv) {
  int pages = argc > 1 ? atoi(argv[1]) : 200;
  if (pages < 1) pages = 1;
  gen *g = calloc(1, sizeof *g);
  cf_row *rows = calloc(PAGE, sizeof *rows);
  cf_buf enc, json;
  int rc = 1;
  cf__buf_init(&enc, CF_CODEC_MAX_FRAME);
  cf__buf_init(&json, (size_t)64 << 20);
  if (g == NULL || rows == NULL) goto out;
  g->rng = 20261128;
  make_rows(g, rows);

  cf_frame f;
  memset(&f, 0, sizeof f);
  f.type = CF_FRAME_CHANGES;
  f.u.changes = (cf_changes){123456, 1, 987654, rows, PAGE};

  /* Encode rate (wall clock, and CPU time: the machine may be shared). */
  int64_t t0 = cf__monotonic_ns();
  clock_t c0 = clock();
  for (int p = 0; p < pages; p++) {
    cf__buf_reset(&enc);
    if (cf__frame_encode(&f, &enc) != CF_OK) goto out;
  }
  double enc_s = (double)(cf__monotonic_ns() - t0) / 1e9;
  double enc_cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;

  /* Decode rate. */
  t0 = cf__monotonic_ns();
  c0 = clock();
  for (int p = 0; p < pages; p++) {
    cf_frame d;
    char why[256];
    if (cf__frame_decode(enc.p, enc.len, NULL, &d, why, sizeof why) != CF_OK) {
      fprintf(stderr, "decode failed: %s\n", why);
      goto out;
    }
    cf__frame_free(&d);
  }
  double dec_s = (double)(cf__monotonic_ns() - t0) / 1e9;
  double dec_cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;

  if (json_page(&json, rows, PAGE) != CF_OK) goto out;
  long naive = (long)enc.len;
  for (int i = 0; i < PAGE; i++)
    naive += naive_delta(&rows[i]);

  double nrows = (double)pages * PAGE, mb = (double)enc.len * pages / 1e6;
  printf("codec speed: CHANGES pages of %d contacts rows (12 cells each), %d pages\n",
         PAGE, pages);
  printf("| operation | rows/s (wall) | rows/s (cpu) | MB/s (cpu) |\n"
         "|-----------|---------------|--------------|------------|\n");
  printf("| encode    | %13.0f | %12.0f | %10.0f |\n", nrows / enc_s,
         nrows / (enc_cpu > 0 ? enc_cpu : 1e-9), mb / (enc_cpu > 0 ? enc_cpu : 1e-9));
  printf("| decode    | %13.0f | %12.0f | %10.0f |\n\n", nrows / dec_s,
         nrows / (dec_cpu > 0 ? dec_cpu : 1e-9), mb / (dec_cpu > 0 ? dec_cpu : 1e-9));
  printf("wire bytes of one CHANGES page of %d realistic contacts rows\n", PAGE);
  printf(
      "| encoding                                   | bytes   | per row | vs JSON |\n");
  printf(
      "|--------------------------------------------|---------|---------|---------|\n");
  printf("| JSON (column names, hex versions)          | %7zu | %7.1f | %7.3f |\n",
         json.len, (double)json.len / PAGE, 1.0);
  printf("| msgpack, one bin24 version per cell        | %7ld | %7.1f | %7.3f |\n", naive,
         (double)naive / PAGE, (double)naive / (double)json.len);
  printf("| msgpack, protocol v1 (version dictionary)  | %7zu | %7.1f | %7.3f |\n",
         enc.len, (double)enc.len / PAGE, (double)enc.len / (double)json.len);
  printf("\ntarget: <= 0.700 of JSON: %s\n",
         (double)enc.len <= 0.7 * (double)json.len ? "met" : "NOT met");
  rc = 0;
out:
  if (rc != 0) fprintf(stderr, "bench_codec: failed\n");
  cf__buf_free(&enc);
  cf__buf_free(&json);
  free(rows);
  free(g);
  return rc;
}
