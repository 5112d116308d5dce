/* SPDX-License-Identifier: MIT */
/* The SSE parser gives the same events for any split of the byte stream:
 * recorded transcripts are fed whole, split at every byte boundary, one
 * byte at a time, and in pseudo-random pieces. */
#include "test_helpers.h"

#include "switchboard/buf.h"
#include "switchboard/sse.h"

static const char *const transcripts[] = {
    "tests/fixtures/openai/plain.sse",
    "tests/fixtures/openai/plain_crlf.sse",
    "tests/fixtures/openai/tool_call.sse",
    "tests/fixtures/openai/parallel_tool_calls.sse",
    "tests/fixtures/openai/usage_in_finish.sse",
    "tests/fixtures/openai/error_midstream.sse",
    "tests/fixtures/openai/reasoning_cached.sse",
    "tests/fixtures/openai/multiline.sse",
};

/* Events serialised as "event\x1fid\x1fdata\x1e" for easy comparison. */
static sb_status_t collect(void *data, const sb_sse_event_t *ev)
{
  sb_buf_t *out = data;
  sb_buf_append_slice(out, ev->event);
  sb_buf_append(out, "\x1f", 1);
  sb_buf_append_slice(out, ev->id);
  sb_buf_append(out, "\x1f", 1);
  sb_buf_append_slice(out, ev->data);
  sb_buf_append(out, "\x1e", 1);
  return SB_OK;
}

static void run_pieces(const char *d, size_t n, const size_t *cuts,
                       size_t ncuts, sb_buf_t *out)
{
  sb_sse_parser_t p;
  sb_sse_init(&p, 1 << 20);
  size_t prev = 0;
  for (size_t i = 0; i <= ncuts; i++) {
    size_t end = i < ncuts ? cuts[i] : n;
    assert_int_equal(sb_sse_feed(&p, d + prev, end - prev, collect, out), SB_OK);
    prev = end;
  }
  assert_false(sb_sse_pending(&p));
  sb_sse_free(&p);
}

static void test_every_split(void **state)
{
  (void)state;
  for (size_t t = 0; t < SB_ARRAY_LEN(transcripts); t++) {
    size_t n = 0;
    char *d = read_file(transcripts[t], &n);
    if (d == NULL)
      fail_msg("cannot read %s", transcripts[t]);
    sb_buf_t whole, split;
    sb_buf_init(&whole, 0);
    sb_buf_init(&split, 0);
    run_pieces(d, n, NULL, 0, &whole);
    assert_true(whole.len > 0);
    /* one cut, at every position */
    for (size_t cut = 0; cut <= n; cut++) {
      sb_buf_reset(&split);
      run_pieces(d, n, &cut, 1, &split);
      if (split.len != whole.len || memcmp(split.data, whole.data, whole.len) != 0)
        fail_msg("%s: split at %zu gives different events", transcripts[t], cut);
    }
    /* one byte at a time */
    size_t *cuts = malloc(n * sizeof(size_t));
    for (size_t i = 0; i < n; i++)
      cuts[i] = i;
    sb_buf_reset(&split);
    run_pieces(d, n, cuts, n, &split);
    assert_int_equal(split.len, whole.len);
    assert_memory_equal(split.data, whole.data, whole.len);
    /* pseudo-random pieces */
    uint32_t seed = 12345u + (uint32_t)t;
    for (int round = 0; round < 200; round++) {
      size_t k = 0, pos = 0;
      while (k < n) {
        seed = seed * 1103515245u + 12345u;
        pos += 1 + (seed >> 16) % 40;
        if (pos >= n)
          break;
        cuts[k++] = pos;
      }
      sb_buf_reset(&split);
      run_pieces(d, n, cuts, k, &split);
      assert_int_equal(split.len, whole.len);
      assert_memory_equal(split.data, whole.data, whole.len);
    }
    free(cuts);
    sb_buf_free(&whole);
    sb_buf_free(&split);
    free(d);
  }
}

static void test_event_fields(void **state)
{
  (void)state;
  size_t n = 0;
  char *d = read_file("tests/fixtures/openai/multiline.sse", &n);
  assert_non_null(d);
  sb_buf_t out;
  sb_buf_init(&out, 0);
  run_pieces(d, n, NULL, 0, &out);
  /* named event with two data lines and an id; data without a space;
   * an empty data field; nothing for comment-only, data-less or unknown
   * fields (a BOM is only skipped at the very start) */
  const char want[] = "message\x1f" "7\x1f{\"a\":\n1}\x1e"
                      "\x1f" "7\x1fno-space\x1e"
                      "\x1f" "7\x1f\x1e";
  assert_int_equal(out.len, sizeof(want) - 1);
  assert_memory_equal(out.data, want, out.len);
  sb_buf_free(&out);
  free(d);
}

static void test_transcript_counts(void **state)
{
  (void)state;
  const struct {
    const char *path;
    size_t events;
  } want[] = {
      {"tests/fixtures/openai/plain.sse", 8},
      {"tests/fixtures/openai/plain_crlf.sse", 8},
      {"tests/fixtures/openai/tool_call.sse", 12},
      {"tests/fixtures/openai/parallel_tool_calls.sse", 9},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(want); i++) {
    size_t n = 0;
    char *d = read_file(want[i].path, &n);
    assert_non_null(d);
    sb_sse_parser_t p;
    sb_buf_t out;
    sb_buf_init(&out, 0);
    sb_sse_init(&p, 1 << 20);
    assert_int_equal(sb_sse_feed(&p, d, n, collect, &out), SB_OK);
    if (p.events != want[i].events)
      fail_msg("%s: %zu events, want %zu", want[i].path, p.events, want[i].events);
    sb_sse_free(&p);
    sb_buf_free(&out);
    free(d);
  }
}

static void test_bom_split(void **state)
{
  (void)state;
  const char s[] = "\xef\xbb\xbf" "data: x\n\n";
  for (size_t cut = 0; cut < sizeof(s) - 1; cut++) {
    sb_buf_t out;
    sb_buf_init(&out, 0);
    run_pieces(s, sizeof(s) - 1, &cut, 1, &out);
    assert_int_equal(out.len, 4);
    assert_memory_equal(out.data, "\x1f\x1fx\x1e", 4);
    sb_buf_free(&out);
  }
}

static void test_caps(void **state)
{
  (void)state;
  sb_sse_parser_t p;
  sb_buf_t out;
  sb_buf_init(&out, 0);
  sb_sse_init(&p, 64);
  char line[200];
  memset(line, 'a', sizeof(line));
  memcpy(line, "data: ", 6);
  /* a line longer than the cap, split or not */
  assert_int_equal(sb_sse_feed(&p, line, sizeof(line), collect, &out), SB_ERROR);
  sb_sse_free(&p);
  sb_sse_init(&p, 64);
  /* many short data lines adding up past the cap */
  int rc = SB_OK;
  for (int i = 0; i < 20 && rc == SB_OK; i++)
    rc = sb_sse_feed(&p, "data: 0123456789\n", 17, collect, &out);
  assert_int_equal(rc, SB_ERROR);
  sb_sse_free(&p);
  sb_buf_free(&out);
}

static sb_status_t stop_after_first(void *data, const sb_sse_event_t *ev)
{
  (void)ev;
  int *n = data;
  (*n)++;
  return SB_DONE;
}

static void test_callback_stops(void **state)
{
  (void)state;
  sb_sse_parser_t p;
  int n = 0;
  sb_sse_init(&p, 1024);
  const char s[] = "data: [DONE]\n\ndata: later\n\n";
  assert_int_equal(sb_sse_feed(&p, s, sizeof(s) - 1, stop_after_first, &n),
                   SB_DONE);
  assert_int_equal(n, 1);
  sb_sse_free(&p);
}

static void test_pending_incomplete(void **state)
{
  (void)state;
  sb_sse_parser_t p;
  sb_buf_t out;
  sb_buf_init(&out, 0);
  sb_sse_init(&p, 1024);
  assert_int_equal(sb_sse_feed(&p, "data: {\"cut", 11, collect, &out), SB_OK);
  assert_true(sb_sse_pending(&p));
  assert_int_equal(out.len, 0);
  assert_int_equal(sb_sse_feed(&p, "\"}\n", 3, collect, &out), SB_OK);
  assert_true(sb_sse_pending(&p)); /* data without the blank line */
  assert_int_equal(sb_sse_feed(&p, "\n", 1, collect, &out), SB_OK);
  assert_false(sb_sse_pending(&p));
  sb_sse_free(&p);
  sb_buf_free(&out);
}

/* Repeated data lines join with "\n" by default, or with the join asked
 * for (a space, for streams of JSON). */
static void test_data_join(void **state)
{
  (void)state;
  const char s[] = "data: {\"a\":[\r\ndata: 1]}\n\ndata: x\n\n";
  const char *want[] = {"\x1f\x1f{\"a\":[\n1]}\x1e\x1f\x1fx\x1e",
                        "\x1f\x1f{\"a\":[ 1]}\x1e\x1f\x1fx\x1e"};
  for (int i = 0; i < 2; i++) {
    sb_sse_parser_t p;
    sb_buf_t out;
    sb_buf_init(&out, 0);
    sb_sse_init(&p, 1024);
    if (i == 1)
      p.data_join = ' ';
    assert_int_equal(sb_sse_feed(&p, s, sizeof(s) - 1, collect, &out), SB_OK);
    assert_int_equal(out.len, strlen(want[i]));
    assert_memory_equal(out.data, want[i], out.len);
    sb_sse_free(&p);
    sb_buf_free(&out);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_split),
      cmocka_unit_test(test_event_fields),
      cmocka_unit_test(test_transcript_counts),
      cmocka_unit_test(test_bom_split),
      cmocka_unit_test(test_caps),
      cmocka_unit_test(test_callback_stops),
      cmocka_unit_test(test_pending_incomplete),
      cmocka_unit_test(test_data_join),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
