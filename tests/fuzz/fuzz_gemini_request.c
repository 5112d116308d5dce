/* SPDX-License-Identifier: MIT */
/* libFuzzer driver: the Gemini door, fed hostile bytes. The first byte
 * picks the target:
 * 0: a GenerateContentRequest: checked against the schema; one that
 *    passes is forwarded as it is (the pass-through path), decoded into
 *    the hub (every jtext must be a JSON string's contents, every json
 *    member JSON) and built into an OpenAI, an Anthropic and a Gemini
 *    request, each valid JSON or refused with a reason;
 * 1: a countTokens body: checked, counted (the answer valid JSON);
 * 2: an embedContent or batchEmbedContents body: checked, decoded (its
 *    input valid JSON), answered from two vectors (valid JSON) and
 *    forwarded to a Gemini provider (valid JSON);
 * 3, 4, 5: hub events, one a line (door_fuzz.h), through the encoder as an
 *    SSE stream (3: every event `data: ` and JSON), Google's JSON array
 *    (4: the whole of it valid JSON) or a whole response (5: valid JSON). */
#include "door_fuzz.h"
#include "formats/gemini/gemini.h"

static void build(const sb_codec_t *codec, const sb_hub_req_t *req,
                  bool passthrough, sb_arena_t *a)
{
  static sb_provider_t provider = {.name = "p",
                                   .base_url = "http://127.0.0.1:9"};
  sb_codec_route_t route = {.provider = &provider,
                            .upstream_model = SB_SLICE_LIT("model-1"),
                            .reasons = 1};
  sb_buf_t body;
  sb_codec_request_t r;
  memset(&r, 0, sizeof(r));
  sb_buf_init(&body, 4u << 20);
  r.body = &body;
  sb_status_t rc = codec->provider->request(req, &route, passthrough, a, &r);
  if (rc == SB_OK) {
    assert(r.url != NULL);
    fuzz_assert_json(sb_buf_slice(&body));
  } else if (rc == SB_ERROR) {
    assert(r.error != NULL && r.error[0] != '\0');
  }
  sb_buf_free(&body);
}

static void request(const char *in, size_t n)
{
  sb_arena_t a;
  sb_json_t *v;
  char why[512];
  sb_arena_init(&a, 4096, 64u << 20);
  if (sb_json_parse_flags(&a, in, n, 0, SB_JSON_REJECT_DUPLICATES, &v, NULL) ==
          SB_OK &&
      sb_gemini_check(v, why, sizeof(why)) == SB_OK) {
    sb_hub_req_t req;
    memset(&req, 0, sizeof(req));
    req.model = SB_SLICE_LIT("x/model-1");
    req.stream = (n & 1) != 0;
    if (sb_gemini_envelope(v, &a, &req, why, sizeof(why)) == SB_OK) {
      build(&sb_codec_gemini, &req, true, &a);
      if (sb_gemini_decode(&req, &a, why, sizeof(why)) == SB_OK) {
        for (size_t i = 0; i < req.n_msgs; i++)
          door_check_blocks(req.msgs[i].blocks, req.msgs[i].n_blocks);
        for (size_t i = 0; i < req.n_tools; i++) {
          fuzz_assert_jtext(req.tools[i].name);
          fuzz_assert_json(req.tools[i].parameters);
          fuzz_assert_json(req.tools[i].native);
        }
        fuzz_assert_json(req.schema);
        (void)sb_hub_estimate_input(&req);
        build(&sb_codec_openai, &req, false, &a);
        build(&sb_codec_anthropic, &req, false, &a);
        build(&sb_codec_gemini, &req, false, &a);
      } else {
        assert(why[0] != '\0');
      }
    }
  }
  sb_arena_destroy(&a);
}

static void count(const char *in, size_t n)
{
  sb_arena_t a;
  sb_json_t *v;
  sb_buf_t out;
  char why[512];
  sb_arena_init(&a, 4096, 64u << 20);
  sb_buf_init(&out, 1 << 16);
  if (sb_json_parse(&a, in, n, 0, &v, NULL) == SB_OK &&
      v->type == SB_JSON_OBJECT) {
    sb_hub_req_t req;
    memset(&req, 0, sizeof(req));
    if (sb_gemini_door.count(v, &a, &req, &out, why, sizeof(why)) == SB_OK)
      fuzz_assert_json(sb_buf_slice(&out));
  }
  sb_buf_free(&out);
  sb_arena_destroy(&a);
}

static void embed(const char *in, size_t n)
{
  static const sb_slice_t vecs[] = {SB_SLICE_LIT("[1,2]"),
                                    SB_SLICE_LIT("[3]")};
  static sb_provider_t provider = {.name = "g",
                                   .base_url = "http://127.0.0.1:9"};
  sb_arena_t a;
  sb_json_t *v;
  sb_buf_t out;
  char why[512];
  bool batch = (n & 1) != 0;
  sb_arena_init(&a, 4096, 64u << 20);
  sb_buf_init(&out, 4u << 20);
  if (sb_json_parse(&a, in, n, 0, &v, NULL) == SB_OK &&
      v->type == SB_JSON_OBJECT &&
      sb_gemini_check_embed(v, batch, why, sizeof(why)) == SB_OK) {
    sb_hub_embed_req_t req;
    memset(&req, 0, sizeof(req));
    if (sb_gemini_embed_door.decode(v, &a, &req, why, sizeof(why)) == SB_OK) {
      fuzz_assert_json(req.input->raw);
      sb_hub_embeddings_t e = {.vectors = vecs, .n = 2};
      sb_usage_t u = {0};
      sb_answer_names_t names = {0};
      if (sb_gemini_embed_door.encode(&req, &names, &e, SB_NULL_SLICE, &u,
                                      SB_SLICE_LIT("0"), &a, &out) == SB_OK)
        fuzz_assert_json(sb_buf_slice(&out));
      sb_codec_route_t route = {.provider = &provider,
                                .upstream_model = SB_SLICE_LIT("emb-1")};
      sb_codec_request_t r;
      memset(&r, 0, sizeof(r));
      sb_buf_reset(&out);
      r.body = &out;
      if (sb_gemini_embed_provider.request(&req, &route, true, &a, &r) ==
          SB_OK)
        fuzz_assert_json(sb_buf_slice(&out));
    }
  }
  sb_buf_free(&out);
  sb_arena_destroy(&a);
}

/* What the array encoder wrote so far: valid JSON once it ended. */
static sb_buf_t array;

static void check_sse(const sb_buf_t *out, bool stream, bool end)
{
  (void)stream;
  (void)end;
  if (out->len == 0)
    return;
  const char *p = out->data, *stop = out->data + out->len;
  while (p < stop) {
    assert((size_t)(stop - p) > 6 && memcmp(p, "data: ", 6) == 0);
    const char *e = memmem(p, (size_t)(stop - p), "\r\n\r\n", 4);
    assert(e != NULL);
    fuzz_assert_json(sb_slice(p + 6, (size_t)(e - p - 6)));
    p = e + 4;
  }
}

static void check_array(const sb_buf_t *out, bool stream, bool end)
{
  (void)stream;
  sb_buf_append_slice(&array, sb_buf_slice(out));
  if (end)
    fuzz_assert_json(sb_buf_slice(&array));
}

static void check_whole(const sb_buf_t *out, bool stream, bool end)
{
  (void)stream;
  if (end)
    fuzz_assert_json(sb_buf_slice(out));
  else
    assert(out->len == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  const char *in = (const char *)data + 1;
  size_t n = size - 1;
  switch (data[0] % 6) {
  case 0:
    request(in, n);
    break;
  case 1:
    count(in, n);
    break;
  case 2:
    embed(in, n);
    break;
  case 3:
    door_encode(&sb_gemini_encoder, NULL, in, n, true, check_sse);
    break;
  case 4:
    sb_buf_init(&array, 64u << 20);
    door_encode(&sb_gemini_array_encoder, NULL, in, n, true, check_array);
    sb_buf_free(&array);
    break;
  default:
    door_encode(&sb_gemini_encoder, NULL, in, n, false, check_whole);
    break;
  }
  return 0;
}
