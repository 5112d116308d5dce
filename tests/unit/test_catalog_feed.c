/* SPDX-License-Identifier: MIT */
/* Model lists into their normal form (catalog_feed.h): OpenRouter's list
 * with malformed entries skipped and counted, exact prices, "-1" for
 * unknown, the size caps, and the providers' lists with their paging. */
#include "test_helpers.h"

#include "switchboard/catalog_feed.h"

static const char model_ok[] =
    "{\"id\":\"acme/one\",\"name\":\"Acme: One\",\"created\":1700000000,"
    "\"context_length\":8192,\"architecture\":{\"modality\":\"text->text\"},"
    "\"pricing\":{\"prompt\":\"0.0000025\",\"completion\":\"0.00001\","
    "\"request\":\"0.0001\",\"image\":\"0.001\",\"input_cache_read\":"
    "\"0.00000125\",\"internal_reasoning\":\"0.00002\"},"
    "\"top_provider\":{\"max_completion_tokens\":4096},"
    "\"supported_parameters\":[\"tools\"],\"unused\":{\"big\":[1,2,3]}}";

/* Run one OpenRouter body through a feed; returns sb_feed_end's status. */
static sb_status_t feed_openrouter(const char *body, sb_feed_t *f,
                                   sb_slice_t *out, char *err, size_t errlen)
{
  sb_feed_begin(f);
  if (sb_feed_openrouter(f, sb_slice_z(body), err, errlen) != SB_OK)
    return SB_DECLINED;
  return sb_feed_end(f, out, err, errlen);
}

static sb_json_t *parse(sb_arena_t *a, sb_slice_t s)
{
  sb_json_t *root;
  sb_json_error_t jerr;
  if (sb_json_parse(a, s.ptr, s.len, 0, &root, &jerr) != SB_OK)
    fail_msg("normal form is not JSON: %s", jerr.message);
  return root;
}

static void test_prices_exact(void **state)
{
  (void)state;
  sb_arena_t a;
  sb_json_t *pricing;
  sb_price_t p;
  const char *why = NULL;
  sb_arena_init(&a, 4096, 0);
  pricing = parse(&a, SB_SLICE_LIT(
      "{\"prompt\":\"0.0000025\",\"completion\":\"0.00001\",\"request\":"
      "\"0.0001\",\"input_cache_read\":\"0.00000125\",\"input_cache_write\":"
      "\"0.000003125\",\"internal_reasoning\":\"0.00002\",\"image\":\"-3\"}"));
  assert_int_equal(sb_feed_price(pricing, &p, &why), SB_OK);
  assert_false(p.unknown);
  assert_int_equal(p.prompt, 2500000);
  assert_int_equal(p.completion, 10000000);
  assert_int_equal(p.request, 100000000);
  assert_true(p.has_cache_read);
  assert_int_equal(p.cache_read, 1250000);
  assert_true(p.has_cache_write);
  assert_int_equal(p.cache_write, 3125000);
  assert_true(p.has_reasoning);
  assert_int_equal(p.reasoning, 20000000);

  /* "-1" anywhere a cost is computed from: the price is unknown */
  pricing = parse(&a, SB_SLICE_LIT("{\"prompt\":\"-1\",\"completion\":\"-1\"}"));
  assert_int_equal(sb_feed_price(pricing, &p, &why), SB_OK);
  assert_true(p.unknown);
  assert_int_equal(p.prompt, 0);
  pricing = parse(&a, SB_SLICE_LIT(
      "{\"prompt\":\"0.000001\",\"completion\":\"0.000002\",\"request\":\"-1\"}"));
  assert_int_equal(sb_feed_price(pricing, &p, &why), SB_OK);
  assert_true(p.unknown);
  assert_int_equal(p.completion, 0);

  /* free is a price */
  pricing = parse(&a, SB_SLICE_LIT("{\"prompt\":\"0\",\"completion\":0}"));
  assert_int_equal(sb_feed_price(pricing, &p, &why), SB_OK);
  assert_false(p.unknown);

  static const char *const bad[] = {
      "{\"prompt\":\"abc\"}", "{\"prompt\":\"-0.5\"}",
      "{\"completion\":\"0.0000000000001\"}", /* finer than a picodollar */
      "{\"prompt\":true}", "{\"request\":\"1e\"}", "{\"prompt\":\"0.00\\u0030\"}",
      "[1]"};
  for (size_t i = 0; i < SB_ARRAY_LEN(bad); i++) {
    why = NULL;
    pricing = parse(&a, sb_slice_z(bad[i]));
    if (sb_feed_price(pricing, &p, &why) != SB_ERROR || why == NULL)
      fail_msg("%s: accepted", bad[i]);
  }
  sb_arena_destroy(&a);
}

static void test_openrouter_normal_form(void **state)
{
  (void)state;
  char body[4096], err[256];
  sb_feed_t f;
  sb_slice_t out;
  snprintf(body, sizeof(body),
           "{\"data\": [ %s , {\"id\":\"acme/free\",\"pricing\":{\"prompt\":"
           "\"0\",\"completion\":\"0\"}} ], \"links\": {\"next\": null}}",
           model_ok);
  assert_int_equal(feed_openrouter(body, &f, &out, err, sizeof(err)), SB_OK);
  assert_int_equal(f.st.kept, 2);
  assert_int_equal(f.st.skipped, 0);
  /* the members switchboard uses, compact, in a fixed order; no others */
  sb_arena_t a;
  sb_arena_init(&a, 4096, 0);
  sb_json_t *root = parse(&a, out);
  sb_json_t *m = sb_json_at(sb_json_get(root, "data"), 0);
  assert_true(SB_JSON_STR_IS(sb_json_get(m, "id"), "acme/one"));
  assert_non_null(sb_json_get(m, "pricing"));
  assert_non_null(sb_json_get(m, "top_provider"));
  assert_null(sb_json_get(m, "unused"));
  assert_slice_equal(sb_json_get(m, "pricing")->raw,
                     "{\"prompt\":\"0.0000025\",\"completion\":\"0.00001\","
                     "\"request\":\"0.0001\",\"image\":\"0.001\","
                     "\"input_cache_read\":\"0.00000125\","
                     "\"internal_reasoning\":\"0.00002\"}");
  /* the normal form reads back to the same prices */
  sb_price_t p;
  const char *why;
  assert_int_equal(sb_feed_openrouter_entry(m, &p, &why), SB_OK);
  assert_int_equal(p.prompt, 2500000);
  assert_int_equal(p.completion, 10000000);
  sb_arena_destroy(&a);
  sb_feed_free(&f);
}

/* Every kind of malformed entry is left out, counted, and the first one
 * named; the good ones around them are kept. */
static void test_openrouter_malformed_entries(void **state)
{
  (void)state;
  static const char *const bad[] = {
      "42", "\"a string\"", "null", "[]",
      "{\"name\":\"no id\",\"pricing\":{\"prompt\":\"0\",\"completion\":\"0\"}}",
      "{\"id\":7,\"pricing\":{\"prompt\":\"0\",\"completion\":\"0\"}}",
      "{\"id\":\"noslash\",\"pricing\":{\"prompt\":\"0\",\"completion\":\"0\"}}",
      "{\"id\":\"/leading\",\"pricing\":{\"prompt\":\"0\",\"completion\":\"0\"}}",
      "{\"id\":\"trailing/\",\"pricing\":{\"prompt\":\"0\",\"completion\":\"0\"}}",
      "{\"id\":\"sp ace/x\",\"pricing\":{\"prompt\":\"0\",\"completion\":\"0\"}}",
      "{\"id\":\"esc\\u0061ped/x\",\"pricing\":{\"prompt\":\"0\",\"completion\":\"0\"}}",
      "{\"id\":\"a/no-pricing\"}",
      "{\"id\":\"a/half-pricing\",\"pricing\":{\"prompt\":\"0\"}}",
      "{\"id\":\"a/pricing-list\",\"pricing\":[]}",
      "{\"id\":\"a/bad-price\",\"pricing\":{\"prompt\":\"x\",\"completion\":\"0\"}}",
      "{\"id\":\"a/ctx\",\"context_length\":-1,\"pricing\":{\"prompt\":\"0\",\"completion\":\"0\"}}",
      "{\"id\":\"a/ctx2\",\"context_length\":\"8k\",\"pricing\":{\"prompt\":\"0\",\"completion\":\"0\"}}",
      "{\"id\":\"a/created\",\"created\":1.5,\"pricing\":{\"prompt\":\"0\",\"completion\":\"0\"}}",
      "{\"id\":\"a/name\",\"name\":5,\"pricing\":{\"prompt\":\"0\",\"completion\":\"0\"}}",
      "{\"id\":\"a/arch\",\"architecture\":\"text\",\"pricing\":{\"prompt\":\"0\",\"completion\":\"0\"}}",
      "{\"id\":\"a/params\",\"supported_parameters\":{},\"pricing\":{\"prompt\":\"0\",\"completion\":\"0\"}}",
      "{\"id\":\"a/mct\",\"top_provider\":{\"max_completion_tokens\":\"x\"},\"pricing\":{\"prompt\":\"0\",\"completion\":\"0\"}}",
  };
  sb_buf_t body;
  char err[256];
  sb_buf_init(&body, 0);
  sb_buf_appendz(&body, "{\"data\":[");
  size_t good = 0;
  for (size_t i = 0; i < SB_ARRAY_LEN(bad); i++) {
    /* two good models around each bad one, so the list is trusted */
    sb_buf_appendf(&body, "%s{\"id\":\"good/m%zu\",\"pricing\":{\"prompt\":"
                   "\"0.000001\",\"completion\":\"0.000002\"}},%s,"
                   "{\"id\":\"good/n%zu\",\"pricing\":{\"prompt\":\"0\","
                   "\"completion\":\"0\"}}",
                   i > 0 ? "," : "", i, bad[i], i);
    good += 2;
  }
  /* one nested deeper than an entry may be */
  sb_buf_appendz(&body, ",{\"id\":\"a/deep\",\"architecture\":");
  for (int d = 0; d < SB_FEED_MAX_DEPTH + 2; d++)
    sb_buf_appendz(&body, "{\"x\":");
  sb_buf_appendz(&body, "1");
  for (int d = 0; d < SB_FEED_MAX_DEPTH + 2; d++)
    sb_buf_appendz(&body, "}");
  sb_buf_appendz(&body, ",\"pricing\":{\"prompt\":\"0\",\"completion\":\"0\"}}");
  /* and one larger than an entry may be */
  sb_buf_appendz(&body, ",{\"id\":\"a/huge\",\"description\":\"");
  for (size_t i = 0; i < SB_FEED_MAX_ENTRY; i += 8)
    sb_buf_appendz(&body, "xxxxxxxx");
  sb_buf_appendz(&body, "\",\"pricing\":{\"prompt\":\"0\",\"completion\":\"0\"}}]}");
  assert_int_equal(sb_buf_cstr(&body), SB_OK);

  sb_feed_t f;
  sb_slice_t out;
  assert_int_equal(feed_openrouter(body.data, &f, &out, err, sizeof(err)), SB_OK);
  assert_int_equal(f.st.kept, good);
  assert_int_equal(f.st.skipped, SB_ARRAY_LEN(bad) + 2);
  assert_string_equal(f.st.why, "entry 2: not an object");
  /* none of the bad ids made it */
  assert_null(memmem(out.ptr, out.len, "a/", 2));
  assert_null(memmem(out.ptr, out.len, "noslash", 7));
  sb_feed_free(&f);
  sb_buf_free(&body);
}

static void test_openrouter_whole_list_refused(void **state)
{
  (void)state;
  char err[256];
  sb_feed_t f;
  sb_slice_t out;
  static const struct {
    const char *body, *why;
    sb_status_t rc;
  } cases[] = {
      {"<html>502</html>", "the list is not JSON", SB_DECLINED},
      {"{\"data\":[{\"id\":\"a/b\",\"pricing\":{\"pro", "the list is not JSON",
       SB_DECLINED},
      {"{\"error\":{\"message\":\"x\"}}", "the list has no 'data' array",
       SB_DECLINED},
      {"{\"data\":{}}", "the list has no 'data' array", SB_DECLINED},
      {"[{\"id\":\"a/b\"}]", "the list has no 'data' array", SB_DECLINED},
      {"{\"data\":[]}", "the list has no usable model", SB_ERROR},
      /* more malformed than good: not trusted over the last good list */
      {"{\"data\":[1,2,{\"id\":\"a/b\",\"pricing\":{\"prompt\":\"0\","
       "\"completion\":\"0\"}}]}",
       "2 of 3 entries are malformed", SB_ERROR},
  };
  for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    err[0] = '\0';
    sb_status_t rc = feed_openrouter(cases[i].body, &f, &out, err, sizeof(err));
    if (rc != cases[i].rc || strstr(err, cases[i].why) == NULL)
      fail_msg("case %zu: rc %d, \"%s\"; want %d, \"%s\"", i, rc, err,
               cases[i].rc, cases[i].why);
    sb_feed_free(&f);
  }
}

/* Hundreds of models: all kept, in order; the cap on models holds. */
static void test_openrouter_many(void **state)
{
  (void)state;
  sb_buf_t body;
  char err[256];
  sb_feed_t f;
  sb_slice_t out;
  sb_buf_init(&body, 0);
  sb_buf_appendz(&body, "{\"data\":[");
  for (int i = 0; i < SB_FEED_MAX_MODELS + 5; i++)
    sb_buf_appendf(&body, "%s{\"id\":\"lab/m%d\",\"pricing\":{\"prompt\":"
                   "\"0.00000%d\",\"completion\":\"0\"}}",
                   i > 0 ? "," : "", i, i % 10);
  sb_buf_appendz(&body, "]}");
  assert_int_equal(sb_buf_cstr(&body), SB_OK);
  assert_int_equal(feed_openrouter(body.data, &f, &out, err, sizeof(err)), SB_OK);
  assert_int_equal(f.st.kept, SB_FEED_MAX_MODELS);
  assert_true(f.st.truncated);
  sb_arena_t a;
  sb_arena_init(&a, 1 << 20, 0);
  sb_json_t *data = sb_json_get(parse(&a, out), "data");
  assert_int_equal(data->count, SB_FEED_MAX_MODELS);
  assert_true(SB_JSON_STR_IS(sb_json_get(sb_json_at(data, 123), "id"), "lab/m123"));
  sb_arena_destroy(&a);
  sb_feed_free(&f);
  sb_buf_free(&body);
}

static void test_body_cap(void **state)
{
  (void)state;
  char err[256];
  sb_feed_t f;
  /* a body past the cap is refused before it is read */
  sb_slice_t big = {"{", (size_t)SB_FEED_MAX_BODY + 1};
  sb_feed_begin(&f);
  assert_int_equal(sb_feed_openrouter(&f, big, err, sizeof(err)), SB_ERROR);
  assert_non_null(strstr(err, "larger than 32 MB"));
  sb_feed_free(&f);
}

/* ---- provider lists ------------------------------------------------------ */

/* The ids of a normal form, comma-separated. */
static void ids_of(sb_slice_t out, char *buf, size_t cap)
{
  sb_arena_t a;
  sb_arena_init(&a, 4096, 0);
  size_t n = 0;
  buf[0] = '\0';
  const sb_json_t *data = sb_json_get(parse(&a, out), "data");
  for (const sb_json_t *e = data->child; e != NULL; e = e->next) {
    sb_slice_t id = sb_json_str_raw(sb_json_get(e, "id"));
    n += (size_t)snprintf(buf + n, cap - n, "%s%.*s", n > 0 ? "," : "",
                          (int)id.len, id.ptr);
  }
  sb_arena_destroy(&a);
}

static void test_provider_lists(void **state)
{
  (void)state;
  char err[256], next[64], ids[512];
  sb_feed_t f;
  sb_slice_t out;

  /* OpenAI-format, with an entry that is not a model and a priced one */
  sb_feed_begin(&f);
  assert_int_equal(
      sb_feed_provider_page(
          &f, SB_LIST_OPENAI,
          SB_SLICE_LIT("{\"object\":\"list\",\"data\":[{\"id\":\"gpt-4o\","
                       "\"object\":\"model\"},{\"object\":\"model\"},"
                       "{\"id\":\"priced\",\"pricing\":{\"prompt\":\"0.000001\","
                       "\"completion\":\"0.000002\"}},{\"id\":\"bad-price\","
                       "\"pricing\":{\"prompt\":\"x\",\"completion\":\"0\"}}]}"),
          next, sizeof(next), err, sizeof(err)),
      SB_OK);
  assert_string_equal(next, "");
  assert_int_equal(sb_feed_end(&f, &out, err, sizeof(err)), SB_OK);
  assert_int_equal(f.st.kept, 3);
  assert_int_equal(f.st.skipped, 1);
  ids_of(out, ids, sizeof(ids));
  assert_string_equal(ids, "gpt-4o,priced,bad-price");
  /* the good price is kept, the bad one dropped (the id stays) */
  assert_non_null(memmem(out.ptr, out.len, "{\"id\":\"priced\",\"pricing\"", 24));
  assert_non_null(memmem(out.ptr, out.len, "{\"id\":\"bad-price\"}", 17));
  sb_feed_free(&f);

  /* a bare array (Together's shape) */
  sb_feed_begin(&f);
  assert_int_equal(sb_feed_provider_page(&f, SB_LIST_OPENAI,
                                         SB_SLICE_LIT("[{\"id\":\"meta-llama/x\"}]"),
                                         next, sizeof(next), err, sizeof(err)),
                   SB_OK);
  assert_int_equal(sb_feed_end(&f, &out, err, sizeof(err)), SB_OK);
  ids_of(out, ids, sizeof(ids));
  assert_string_equal(ids, "meta-llama/x");
  sb_feed_free(&f);

  /* Anthropic, two pages */
  sb_feed_begin(&f);
  assert_int_equal(
      sb_feed_provider_page(
          &f, SB_LIST_ANTHROPIC,
          SB_SLICE_LIT("{\"data\":[{\"type\":\"model\",\"id\":\"claude-a\"},"
                       "{\"type\":\"model\",\"id\":\"claude-b\"}],\"has_more\":"
                       "true,\"first_id\":\"claude-a\",\"last_id\":\"claude-b\"}"),
          next, sizeof(next), err, sizeof(err)),
      SB_OK);
  assert_string_equal(next, "claude-b");
  assert_int_equal(
      sb_feed_provider_page(
          &f, SB_LIST_ANTHROPIC,
          SB_SLICE_LIT("{\"data\":[{\"type\":\"model\",\"id\":\"claude-c\"}],"
                       "\"has_more\":false,\"last_id\":\"claude-c\"}"),
          next, sizeof(next), err, sizeof(err)),
      SB_OK);
  assert_string_equal(next, "");
  assert_int_equal(sb_feed_end(&f, &out, err, sizeof(err)), SB_OK);
  ids_of(out, ids, sizeof(ids));
  assert_string_equal(ids, "claude-a,claude-b,claude-c");
  sb_feed_free(&f);
  /* has_more without a cursor is an error, not a loop */
  sb_feed_begin(&f);
  assert_int_equal(sb_feed_provider_page(&f, SB_LIST_ANTHROPIC,
                                         SB_SLICE_LIT("{\"data\":[{\"id\":\"a\"}],"
                                                      "\"has_more\":true}"),
                                         next, sizeof(next), err, sizeof(err)),
                   SB_ERROR);
  sb_feed_free(&f);

  /* Gemini: models/ prefix dropped, models that cannot generate left out */
  sb_feed_begin(&f);
  assert_int_equal(
      sb_feed_provider_page(
          &f, SB_LIST_GEMINI,
          SB_SLICE_LIT("{\"models\":[{\"name\":\"models/gemini-2.5-flash\","
                       "\"supportedGenerationMethods\":[\"generateContent\"]},"
                       "{\"name\":\"models/aqa\",\"supportedGenerationMethods\":"
                       "[\"generateAnswer\"]},{\"name\":\"models/text-embedding-004\","
                       "\"supportedGenerationMethods\":[\"embedContent\"]}],"
                       "\"nextPageToken\":\"tok\\/2\"}"),
          next, sizeof(next), err, sizeof(err)),
      SB_OK);
  assert_string_equal(next, "tok/2"); /* unescaped */
  assert_int_equal(sb_feed_end(&f, &out, err, sizeof(err)), SB_OK);
  ids_of(out, ids, sizeof(ids));
  assert_string_equal(ids, "gemini-2.5-flash,text-embedding-004");
  sb_feed_free(&f);

  /* not a list */
  sb_feed_begin(&f);
  assert_int_equal(sb_feed_provider_page(&f, SB_LIST_GEMINI,
                                         SB_SLICE_LIT("{\"data\":[]}"), next,
                                         sizeof(next), err, sizeof(err)),
                   SB_ERROR);
  assert_non_null(strstr(err, "no 'models' array"));
  sb_feed_free(&f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_prices_exact),
      cmocka_unit_test(test_openrouter_normal_form),
      cmocka_unit_test(test_openrouter_malformed_entries),
      cmocka_unit_test(test_openrouter_whole_list_refused),
      cmocka_unit_test(test_openrouter_many),
      cmocka_unit_test(test_body_cap),
      cmocka_unit_test(test_provider_lists),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
