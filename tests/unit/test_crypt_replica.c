/*
** tests/unit/test_crypt_replica.c: encryption at rest (store/vfs_crypt.c,
** store/node_crypt.c, docs/encryption.md): no plain value in any file of an
** encrypted replica, tampering and wrong keys refused, rekey, conversion,
** passphrases, the token rule, the wipe, the files' modes.  No server.
*/
#define _GNU_SOURCE /* memmem */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/platform.h"
#include "file_scan.h"
#include "store_helpers.h"

static const unsigned char KEY1[32] = "key-one-0123456789abcdef01234567";
static const unsigned char KEY2[32] = "key-two-0123456789abcdef01234567";

#define TOKEN_VALUE "eyJhbGciOiJIUzI1NiJ9.secret-token-value.sig"

/* Options with a raw key, a passphrase, or none (key == NULL, pass == NULL). */
static cf_node_options *opts_for(const unsigned char *key, const char *pass) {
  cf_node_options *o = NULL;
  CHECK_OK(cf_node_options_new(&o));
  if (key != NULL) CHECK_OK(cf_node_options_set_key(o, key));
  if (pass != NULL) CHECK_OK(cf_node_options_set_passphrase(o, pass, strlen(pass)));
  return o;
}

static int open_with(const char *path, const unsigned char *key, const char *pass,
                     cf_node **out) {
  cf_node_options *o = opts_for(key, pass);
  int rc = cf_node_open_with(path, ORG_A, USER_A, o, out);
  cf_node_options_free(o);
  return rc;
}

static cf_node *must_open(const char *path, const unsigned char *key, const char *pass) {
  cf_node *n = NULL;
  int rc = open_with(path, key, pass, &n);
  CHECK_MSG(rc == CF_OK, "open %s: %s: %s", path, cf_strerror(rc), cf_node_errmsg(NULL));
  return n;
}

static void sub_path(char *out, size_t cap, const char *dir, const char *name) {
  int n = snprintf(out, cap, "%s/%s", dir, name); /* the result used: GCC's -O2
                                                     -Wformat-truncation stays quiet */
  CHECK(n > 0 && (size_t)n < cap);
}

/* A fresh directory <tmpdir>/<name>. */
static void make_dir(char *out, size_t cap, const char *name) {
  sub_path(out, cap, cf_test_tmpdir(), name);
  CHECK(mkdir(out, 0700) == 0);
}

static void check_dir_clean(const char *dir, const char *const *needles, size_t n,
                            const char *when) {
  for (size_t i = 0; i < n; i++) {
    const char *hit = fscan_dir_has(dir, needles[i]);
    CHECK_MSG(hit == NULL, "%s: '%s' found in plain text in %s", when, needles[i], hit);
  }
}

static void write_contacts(cf_node *n, int from, int count) {
  char sql[512];
  for (int i = from; i < from + count; i++) {
    snprintf(sql, sizeof sql,
             "INSERT INTO contacts (first_name, last_name, email) VALUES "
             "('Zebulon%d', 'Quixotic', 'zebulon%d@secret-mail.test')",
             i, i);
    EXEC_OK(n, sql);
  }
}

static void copy_file(const char *from, const char *to) {
  char *data = NULL;
  size_t len = 0;
  CHECK_OK(cf__file_read_all(from, (size_t)1 << 30, &data, &len));
  FILE *f = fopen(to, "wb");
  CHECK(f != NULL);
  CHECK(fwrite(data, 1, len, f) == len);
  CHECK(fclose(f) == 0);
  cf__free(data);
}

static int64_t file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

static void flip_bit(const char *path, int64_t byte, int bit) {
  FILE *f = fopen(path, "r+b");
  CHECK(f != NULL);
  CHECK(fseek(f, (long)byte, SEEK_SET) == 0);
  int c = fgetc(f);
  CHECK(c != EOF);
  CHECK(fseek(f, (long)byte, SEEK_SET) == 0);
  CHECK(fputc(c ^ (1 << bit), f) != EOF);
  CHECK(fclose(f) == 0);
}

/* Reads everything the views show; the first failure's code, or CF_OK. */
static int read_all(cf_node *n) {
  static const char *const sql[] = {
      "PRAGMA integrity_check",
      "SELECT count(*), max(email) FROM contacts",
      "SELECT count(*) FROM deals",
      "SELECT count(*) FROM cf_outbox",
  };
  for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
    cf_stmt *st = NULL;
    int rc = cf_node_prepare(n, sql[i], &st);
    while (rc == CF_OK && (rc = cf_stmt_step(st)) == CF_OK) {
      if (i == 0 && strcmp((const char *)cf_stmt_column_text(st, 0), "ok") != 0)
        rc = CF_CORRUPT;
    }
    cf_stmt_finalize(st);
    if (rc != CF_DONE) return rc;
  }
  return CF_OK;
}

CF_TEST(test_encrypted_replica_files_hold_no_plaintext_during_and_after_writes) {
  uint64_t rng = cf_test_seed();
  char dir[8192], path[8192];
  make_dir(dir, sizeof dir, "enc");
  sub_path(path, sizeof path, dir, "replica.db");
  cf_node *n = must_open(path, KEY1, NULL);
  CHECK(cf_node_encrypted(n));
  CHECK_OK(cf_node_setting_set(n, "token", TOKEN_VALUE));
  const char *const needles[] = {
      "Zebulon",        "Quixotic",           "secret-mail.test",
      "Remotely",       "secret-token-value", "CREATE TABLE",
      "SQLite format 3"};
  /* A write-heavy run: local transactions of random size, remote rows
  ** applied in between, checks of every file while the WAL holds them. */
  int next = 0;
  for (int round = 0; round < 30; round++) {
    int count = 1 + (int)(cf_test_rand(&rng) % 40);
    EXEC_OK(n, "BEGIN");
    write_contacts(n, next, count);
    EXEC_OK(n, "UPDATE contacts SET phone = '+1-555-7777' WHERE first_name LIKE 'Zeb%'");
    EXEC_OK(n, "COMMIT");
    next += count;
    cf_row ch;
    char id[64];
    snprintf(id, sizeof id, "0190f1a2-0000-7000-8000-%012x", round + 1);
    remote_contact(&ch, ORG_A, id);
    cf_ver v = make_ver(cf__now_ms(), 0, 0x55);
    set_text(&ch, "first_name", "Remotely", &v);
    CHECK_OK(cf__store_apply(n, &ch, 1, round + 1));
    if (round % 5 == 0) check_dir_clean(dir, needles, 7, "during the run");
  }
  EXEC_OK(n, "DELETE FROM contacts WHERE first_name = 'Zebulon3'");
  check_dir_clean(dir, needles, 7, "before close");
  char wal[8300];
  snprintf(wal, sizeof wal, "%s-wal", path);
  CHECK_MSG(file_size(wal) > 0, "the run should have left frames in the WAL");
  cf_node_close(n);
  check_dir_clean(dir, needles, 7, "after close");
  /* And the data is all there under the key. */
  n = must_open(path, KEY1, NULL);
  CHECK_EQ(query_int(n, "SELECT count(*) FROM contacts WHERE first_name LIKE 'Zebulon%'"),
           next - 1);
  CHECK_EQ(query_int(n, "SELECT count(*) FROM contacts WHERE first_name = 'Remotely'"),
           30);
  char tok[256];
  CHECK_OK(cf_node_setting_get(n, "token", tok, sizeof tok));
  CHECK_STR(tok, TOKEN_VALUE);
  cf_node_close(n);
}

/* A crash image of an encrypted replica: its database file and WAL. */
typedef struct image {
  char db[8192]; /* pristine copies */
  char wal[8300];
  char work[8192]; /* where each trial runs */
  char work_wal[8300];
} image;

/* Restores the pristine image into work, flips one bit of the database file
** (in_wal = 0) or the WAL (1) there, and says whether opening it and
** reading everything is refused (CF_CORRUPT or CF_AUTH). */
static int tamper_detected(const image *im, int in_wal, int64_t byte, int bit) {
  copy_file(im->db, im->work);
  unlink(im->work_wal);
  if (in_wal) copy_file(im->wal, im->work_wal);
  flip_bit(in_wal ? im->work_wal : im->work, byte, bit);
  cf_node *n = NULL;
  int rc = open_with(im->work, KEY1, NULL, &n);
  if (rc == CF_OK) {
    rc = read_all(n);
    cf_node_close(n);
  }
  CHECK_MSG(rc == CF_OK || rc == CF_CORRUPT || rc == CF_AUTH, "tamper at %lld: %s",
            (long long)byte, cf_strerror(rc));
  return rc != CF_OK;
}

CF_TEST(test_flipped_bit_in_any_page_of_database_or_wal_is_detected) {
  uint64_t rng = cf_test_seed();
  char dir[8192], path[8192], wal[8300], img_dir[8192], work_dir[8192];
  make_dir(dir, sizeof dir, "orig");
  make_dir(img_dir, sizeof img_dir, "image");
  make_dir(work_dir, sizeof work_dir, "work");
  sub_path(path, sizeof path, dir, "replica.db");
  snprintf(wal, sizeof wal, "%s-wal", path);
  image im;
  sub_path(im.db, sizeof im.db, img_dir, "replica.db");
  snprintf(im.wal, sizeof im.wal, "%s-wal", im.db);
  sub_path(im.work, sizeof im.work, work_dir, "replica.db");
  snprintf(im.work_wal, sizeof im.work_wal, "%s-wal", im.work);
  cf_node *n = must_open(path, KEY1, NULL);
  write_contacts(n, 0, 300);
  cf_node_close(n); /* everything checkpointed into the database file */
  char checkpointed[8192];
  sub_path(checkpointed, sizeof checkpointed, img_dir, "checkpointed.db");
  copy_file(path, checkpointed);
  n = must_open(path, KEY1, NULL);
  EXEC_OK(n, "UPDATE contacts SET phone = '1' WHERE first_name LIKE 'Zebulon1%'");
  EXEC_OK(n, "UPDATE contacts SET phone = '3'");
  EXEC_OK(n, "UPDATE contacts SET phone = '2' WHERE first_name LIKE 'Zebulon2%'");
  /* The crash image: the files as they are while the node is open. */
  copy_file(path, im.db);
  copy_file(wal, im.wal);
  cf_node_close(n);
  /* Pages of the database file, one random bit each (in a file without a
  ** WAL: a page the WAL supersedes is never read): page 1, the last one,
  ** and a random sample (every trial opens and reads the whole replica, a
  ** few fsyncs each).  Different seeds pick different pages. */
  image ck = im;
  snprintf(ck.db, sizeof ck.db, "%s", checkpointed);
  int64_t pages = file_size(ck.db) / 4096;
  CHECK(pages > 10);
  for (int trial = 0; trial < 24; trial++) {
    int64_t p = trial == 0   ? 0
                : trial == 1 ? pages - 1
                             : (int64_t)(cf_test_rand(&rng) % (uint64_t)pages);
    int64_t byte = p * 4096 + (int64_t)(cf_test_rand(&rng) % 4096);
    int bit = (int)(cf_test_rand(&rng) % 8);
    CHECK_MSG(tamper_detected(&ck, 0, byte, bit),
              "a flipped bit %d at byte %lld (page %lld) went unnoticed", bit,
              (long long)byte, (long long)p + 1);
  }
  /* Frames of the WAL but those of the last transaction (a damaged last
  ** transaction looks like one a crash cut short: SQLite drops it, see
  ** docs/encryption.md), a bit in the page or in the authenticated part
  ** of its header (bytes 0..16; the checksums at 16..24 are SQLite's). */
  int64_t frames = (file_size(im.wal) - 32) / 4120;
  CHECK_MSG(frames >= 4, "WAL of %lld bytes", (long long)file_size(im.wal));
  int64_t last_commit_start = frames; /* the last transaction's first frame */
  for (int64_t f = frames - 2; f >= 0; f--) {
    unsigned char h[8];
    FILE *fp = fopen(im.wal, "rb");
    CHECK(fp != NULL);
    CHECK(fseek(fp, (long)(32 + f * 4120), SEEK_SET) == 0);
    CHECK(fread(h, 1, 8, fp) == 8);
    fclose(fp);
    if (h[4] | h[5] | h[6] | h[7]) {
      last_commit_start = f + 1;
      break;
    }
  }
  CHECK(last_commit_start < frames);
  for (int trial = 0; trial < 16; trial++) {
    int64_t f =
        trial == 0 ? 0 : (int64_t)(cf_test_rand(&rng) % (uint64_t)last_commit_start);
    int64_t in = (int64_t)(cf_test_rand(&rng) % (4120 - 8));
    if (in >= 16) in += 8;
    int64_t byte = 32 + f * 4120 + in;
    int bit = (int)(cf_test_rand(&rng) % 8);
    CHECK_MSG(tamper_detected(&im, 1, byte, bit),
              "a flipped bit at WAL byte %lld (frame %lld) went unnoticed",
              (long long)byte, (long long)f + 1);
  }
  /* Untouched, the image opens and holds all three updates. */
  copy_file(im.db, im.work);
  unlink(im.work_wal);
  copy_file(im.wal, im.work_wal);
  n = must_open(im.work, KEY1, NULL);
  CHECK_EQ(read_all(n), CF_OK);
  CHECK_EQ(
      query_int(n, "SELECT count(*) FROM contacts WHERE phone = '2'"),
      query_int(n, "SELECT count(*) FROM contacts WHERE first_name LIKE 'Zebulon2%'"));
  CHECK_EQ(
      query_int(n, "SELECT count(*) FROM contacts WHERE phone = '3'"),
      300 - query_int(n,
                      "SELECT count(*) FROM contacts WHERE first_name LIKE 'Zebulon2%'"));
  cf_node_close(n);
}

/* The bytes of every file in dir, concatenated with their names. */
static void snapshot(const char *dir, cf_buf *out) {
  cf__buf_reset(out);
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char path[8192];
    sub_path(path, sizeof path, dir, e->d_name);
    char *data = NULL;
    size_t len = 0;
    CHECK_OK(cf__file_read_all(path, (size_t)1 << 30, &data, &len));
    CHECK_OK(cf__buf_puts(out, e->d_name));
    CHECK_OK(cf__buf_append(out, data, len));
    cf__free(data);
  }
  closedir(d);
}

CF_TEST(test_wrong_key_or_no_key_is_refused_without_damage) {
  char dir[8192], path[8192];
  make_dir(dir, sizeof dir, "w");
  sub_path(path, sizeof path, dir, "replica.db");
  cf_node *n = must_open(path, KEY1, NULL);
  write_contacts(n, 0, 50);
  cf_node_close(n);
  cf_buf before, after;
  cf__buf_init(&before, (size_t)1 << 30);
  cf__buf_init(&after, (size_t)1 << 30);
  snapshot(dir, &before);
  CHECK_EQ(open_with(path, KEY2, NULL, &n), CF_AUTH);
  CHECK(n == NULL);
  CHECK_MSG(strstr(cf_node_errmsg(NULL), "wrong key") != NULL, "errmsg: %s",
            cf_node_errmsg(NULL));
  CHECK_EQ(open_with(path, NULL, "a passphrase", &n), CF_AUTH);
  CHECK_EQ(open_with(path, NULL, NULL, &n), CF_AUTH);
  CHECK_MSG(strstr(cf_node_errmsg(NULL), "key is needed") != NULL, "errmsg: %s",
            cf_node_errmsg(NULL));
  snapshot(dir, &after);
  CHECK(before.len == after.len && memcmp(before.p, after.p, before.len) == 0);
  n = must_open(path, KEY1, NULL);
  CHECK_EQ(query_int(n, "SELECT count(*) FROM contacts"), 50);
  cf_node_close(n);
  /* A plain replica opened with a key is refused too, and left alone. */
  char plain[8192];
  sub_path(plain, sizeof plain, dir, "plain.db");
  n = must_open(plain, NULL, NULL);
  cf_node_close(n);
  CHECK_EQ(open_with(plain, KEY1, NULL, &n), CF_AUTH);
  CHECK_MSG(strstr(cf_node_errmsg(NULL), "not encrypted") != NULL, "errmsg: %s",
            cf_node_errmsg(NULL));
  n = must_open(plain, NULL, NULL);
  cf_node_close(n);
  cf__buf_free(&before);
  cf__buf_free(&after);
}

CF_TEST(test_rekey_changes_the_key_in_place_and_keeps_every_row) {
  char dir[8192], path[8192];
  make_dir(dir, sizeof dir, "r");
  sub_path(path, sizeof path, dir, "replica.db");
  cf_node *n = must_open(path, KEY1, NULL);
  write_contacts(n, 0, 120);
  CHECK_OK(cf_node_setting_set(n, "token", TOKEN_VALUE));
  char id0[64];
  snprintf(id0, sizeof id0, "%s", cf_node_id(n));
  /* A statement left open refuses the rekey. */
  cf_stmt *st = NULL;
  CHECK_OK(cf_node_prepare(n, "SELECT 1", &st));
  cf_node_options *o = opts_for(KEY2, NULL);
  CHECK_EQ(cf_node_rekey(n, o), CF_MISUSE);
  cf_stmt_finalize(st);
  CHECK_OK(cf_node_rekey(n, o));
  cf_node_options_free(o);
  /* The node carries on under the new key. */
  CHECK_EQ(query_int(n, "SELECT count(*) FROM contacts"), 120);
  write_contacts(n, 120, 5);
  CHECK_STR(cf_node_id(n), id0);
  cf_node_close(n);
  CHECK_EQ(open_with(path, KEY1, NULL, &n), CF_AUTH);
  n = must_open(path, KEY2, NULL);
  CHECK_EQ(query_int(n, "SELECT count(*) FROM contacts"), 125);
  CHECK_EQ(query_int(n, "SELECT count(*) FROM cf_outbox"), 125);
  char tok[256];
  CHECK_OK(cf_node_setting_get(n, "token", tok, sizeof tok));
  CHECK_STR(tok, TOKEN_VALUE);
  /* And to a passphrase. */
  o = opts_for(NULL, "correct horse battery staple");
  CHECK_OK(cf_node_rekey(n, o));
  cf_node_options_free(o);
  cf_node_close(n);
  CHECK_EQ(open_with(path, NULL, "correct horse battery stapler", &n), CF_AUTH);
  n = must_open(path, NULL, "correct horse battery staple");
  CHECK_EQ(query_int(n, "SELECT count(*) FROM contacts"), 125);
  cf_node_close(n);
  const char *const needles[] = {"Zebulon", "secret-token-value"};
  check_dir_clean(dir, needles, 2, "after rekey");
}

CF_TEST(test_plain_replica_converts_to_encrypted_and_back) {
  char dir[8192], path[8192];
  make_dir(dir, sizeof dir, "c");
  sub_path(path, sizeof path, dir, "replica.db");
  cf_node *n = must_open(path, NULL, NULL);
  CHECK(!cf_node_encrypted(n));
  write_contacts(n, 0, 200);
  cf_node_close(n);
  CHECK(fscan_file_has(path, "secret-mail.test"));
  n = must_open(path, NULL, NULL);
  cf_node_options *o = opts_for(KEY1, NULL);
  CHECK_OK(cf_node_rekey(n, o));
  cf_node_options_free(o);
  CHECK(cf_node_encrypted(n));
  CHECK_OK(cf_node_setting_set(n, "token", TOKEN_VALUE));
  write_contacts(n, 200, 10);
  cf_node_close(n);
  const char *const needles[] = {"Zebulon", "secret-mail.test", "secret-token-value"};
  check_dir_clean(dir, needles, 3, "after conversion");
  n = must_open(path, KEY1, NULL);
  CHECK_EQ(query_int(n, "SELECT count(*) FROM contacts"), 210);
  /* Back to plain: the token is dropped, the rows stay. */
  int rrc = cf_node_rekey(n, NULL);
  CHECK_MSG(rrc == CF_OK, "rekey to plain: %s: %s", cf_strerror(rrc), cf_node_errmsg(n));
  CHECK(!cf_node_encrypted(n));
  char tok[256];
  CHECK_EQ(cf_node_setting_get(n, "token", tok, sizeof tok), CF_NOTFOUND);
  cf_node_close(n);
  n = must_open(path, NULL, NULL);
  CHECK_EQ(query_int(n, "SELECT count(*) FROM contacts"), 210);
  CHECK_EQ(query_int(n, "PRAGMA page_size"), 4096);
  cf_node_close(n);
  CHECK(fscan_file_has(path, "secret-mail.test"));
  CHECK(fscan_dir_has(dir, "secret-token-value") == NULL);
}

CF_TEST(test_plain_replica_keeps_no_token_and_encrypted_one_does) {
  char dir[8192], path[8192], epath[8192];
  make_dir(dir, sizeof dir, "t");
  sub_path(path, sizeof path, dir, "plain.db");
  sub_path(epath, sizeof epath, dir, "enc.db");
  cf_node *n = must_open(path, NULL, NULL);
  CHECK_EQ(cf_node_setting_set(n, "token", TOKEN_VALUE), CF_PERMISSION);
  CHECK_MSG(strstr(cf_node_errmsg(n), "keeps no token") != NULL, "%s", cf_node_errmsg(n));
  CHECK_OK(cf_node_setting_set(n, "server_url", "ws://example.test/sync"));
  cf_node_close(n);
  n = must_open(epath, KEY1, NULL);
  CHECK_OK(cf_node_setting_set(n, "token", TOKEN_VALUE));
  cf_node_close(n);
  CHECK(fscan_dir_has(dir, "secret-token-value") == NULL);
}

CF_TEST(test_replica_files_are_created_owner_only) {
  char dir[8192], path[8192], wal[8300], shm[8300];
  make_dir(dir, sizeof dir, "m");
  sub_path(path, sizeof path, dir, "replica.db");
  snprintf(wal, sizeof wal, "%s-wal", path);
  snprintf(shm, sizeof shm, "%s-shm", path);
  for (int enc = 0; enc < 2; enc++) {
    cf_node *n = must_open(path, enc ? KEY1 : NULL, NULL);
    write_contacts(n, 0, 3);
    const char *files[] = {path, wal, shm};
    for (int i = 0; i < 3; i++) {
      struct stat st;
      CHECK_MSG(stat(files[i], &st) == 0, "%s missing", files[i]);
      CHECK_MSG((st.st_mode & 0777) == 0600, "%s has mode %o", files[i],
                (unsigned)(st.st_mode & 0777));
    }
    cf_node_close(n);
    CHECK(unlink(path) == 0);
    unlink(wal);
    unlink(shm);
  }
}

static void wipe_leaves_nothing(int encrypted) {
  char dir[8192], out_dir[8192], path[8192], export[8192];
  make_dir(dir, sizeof dir, encrypted ? "wipe-enc" : "wipe-plain");
  make_dir(out_dir, sizeof out_dir, encrypted ? "export-enc" : "export-plain");
  sub_path(path, sizeof path, dir, "replica.db");
  sub_path(export, sizeof export, out_dir, "handover.db");
  cf_node *n = must_open(path, encrypted ? KEY1 : NULL, NULL);
  if (encrypted) CHECK_OK(cf_node_setting_set(n, "token", TOKEN_VALUE));
  /* Synced rows (applied from the master) and a pending local change. */
  for (int i = 0; i < 200; i++) {
    cf_row ch;
    char id[64], email[64];
    snprintf(id, sizeof id, "0190f1a2-0000-7000-8000-%012x", i + 1);
    snprintf(email, sizeof email, "synced%d@known-value.test", i);
    remote_contact(&ch, ORG_A, id);
    cf_ver v = make_ver(cf__now_ms(), 0, 0x55);
    set_text(&ch, "first_name", "Knownname", &v);
    set_text(&ch, "email", email, &v);
    CHECK_OK(cf__store_apply(n, &ch, 1, i + 1));
  }
  EXEC_OK(n, "INSERT INTO contacts (first_name, email) VALUES ('Pendingperson', "
             "'pending@unpushed.test')");
  EXEC_OK(n, "UPDATE contacts SET phone = '+1-555-4242' WHERE email = "
             "'synced7@known-value.test'");
  if (!encrypted) {
    cf_node_close(n); /* checkpoint: the plain values are in the database file */
    CHECK(fscan_file_has(path, "known-value.test"));
    n = must_open(path, NULL, NULL);
  }
  CHECK_OK(cf_node_wipe(n, export));
  CHECK_EQ(query_int(n, "SELECT count(*) FROM contacts"), 0);
  CHECK_EQ(query_int(n, "SELECT count(*) FROM cf_outbox"), 0);
  const char *const needles[] = {"known-value.test", "Knownname", "unpushed.test",
                                 "Pendingperson", "secret-token-value"};
  check_dir_clean(dir, needles, 5, "after the wipe, node open");
  /* The export holds the unpushed changes, readable under the same key. */
  char sql[9000];
  snprintf(sql, sizeof sql, "ATTACH '%s' AS x", export);
  EXEC_OK(n, sql);
  CHECK_EQ(query_int(n, "SELECT count(*) FROM x.changes"), 2);
  CHECK_EQ(query_int(n, "SELECT count(*) FROM x.changes WHERE state = 'pending' AND "
                        "json_extract(row, '$.email') = 'pending@unpushed.test'"),
           1);
  CHECK_EQ(query_int(n, "SELECT count(*) FROM x.changes WHERE "
                        "json_extract(row, '$.phone') = '+1-555-4242'"),
           1);
  EXEC_OK(n, "DETACH x");
  CHECK_EQ(fscan_file_has(export, "unpushed.test"), !encrypted);
  /* A second wipe refuses to overwrite the export. */
  CHECK_EQ(cf_node_wipe(n, export), CF_INVALID);
  /* The replica still works, and can be filled again. */
  write_contacts(n, 0, 2);
  cf_node_close(n);
  check_dir_clean(dir, needles, 5, "after the wipe, node closed");
  n = must_open(path, encrypted ? KEY1 : NULL, NULL);
  CHECK_EQ(query_int(n, "SELECT count(*) FROM contacts"), 2);
  cf_node_close(n);
}

CF_TEST(test_wipe_leaves_no_known_value_in_a_plain_replicas_files) {
  wipe_leaves_nothing(0);
}

CF_TEST(test_wipe_leaves_no_known_value_in_an_encrypted_replicas_files) {
  wipe_leaves_nothing(1);
}

CF_TEST(test_revoke_policy_keep_does_nothing_and_wipe_wipes) {
  char path[8192], export[8192];
  snprintf(path, sizeof path, "%s/policy.db", cf_test_tmpdir());
  snprintf(export, sizeof export, "%s/policy.export", cf_test_tmpdir());
  cf_node_options *o = opts_for(KEY1, NULL);
  cf_node *n = NULL;
  CHECK_OK(cf_node_open_with(path, ORG_A, USER_A, o, &n));
  write_contacts(n, 0, 3);
  CHECK_OK(cf__store_on_revoked(n)); /* default: keep */
  CHECK_EQ(query_int(n, "SELECT count(*) FROM contacts"), 3);
  cf_node_close(n);
  CHECK_EQ(cf_node_options_set_revoke(o, (cf_revoke_policy)7, NULL), CF_INVALID);
  CHECK_OK(cf_node_options_set_revoke(o, CF_REVOKE_WIPE, export));
  CHECK_OK(cf_node_open_with(path, ORG_A, USER_A, o, &n));
  cf_node_options_free(o);
  CHECK_OK(cf__store_on_revoked(n));
  CHECK_EQ(query_int(n, "SELECT count(*) FROM contacts"), 0);
  cf_node_close(n);
  CHECK(file_size(export) > 0);
}
