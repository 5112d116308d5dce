/* SPDX-License-Identifier: MIT */
/*
 * What /metrics shows of the requests and the process beyond the older
 * families (src/api/models.c): see sb_ops_scrape() in ops.h and
 * docs/observability.md, "Metrics".
 */
#include <dirent.h>
#include <stdio.h>
#include <unistd.h>

#include "switchboard/gateway.h"
#include "switchboard/health.h"
#include "switchboard/ops.h"

/* One breaker's lines, when the endpoint was used or is not closed (a
 * catalog of hundreds of models adds no series until they are used). */
static void breaker(sb_buf_t *state, sb_buf_t *opens, sb_health_t *h,
                    size_t slot, const char *model, const char *provider,
                    int64_t now)
{
  sb_health_view_t v;
  sb_health_view(h, slot, now, &v);
  if (v.requests == 0 && v.state == SB_BREAKER_CLOSED && v.opens == 0)
    return;
  sb_buf_t lab;
  sb_buf_init(&lab, 4096);
  sb_buf_appendz(&lab, "{model=\"");
  sb_metrics_label(&lab, sb_slice_z(model));
  sb_buf_appendz(&lab, "\",provider=\"");
  sb_metrics_label(&lab, sb_slice_z(provider));
  sb_buf_appendz(&lab, "\"}");
  sb_buf_appendf(state, "switchboard_breaker_state%.*s %d\n", (int)lab.len,
                 lab.data, (int)v.state);
  sb_buf_appendf(opens, "switchboard_breaker_opens_total%.*s %llu\n",
                 (int)lab.len, lab.data, (unsigned long long)v.opens);
  sb_buf_free(&lab);
}

static void breakers(sb_gateway_t *gw, sb_buf_t *out)
{
  sb_buf_t state, opens;
  sb_buf_init(&state, 0);
  sb_buf_init(&opens, 0);
  int64_t now = sb_wall_ms();
  const sb_catalog_t *cat = sb_gateway_catalog_now(gw);
  for (size_t i = 0; i < cat->n_models; i++) {
    const sb_model_t *m = &cat->models[i];
    for (size_t j = 0; j < m->n_endpoints; j++)
      if (m->endpoints[j].provider != NULL)
        breaker(&state, &opens, gw->health, m->endpoints[j].slot, m->id,
                m->endpoints[j].provider_name, now);
  }
  /* a provider as a whole: the ids routed by their prefix */
  for (size_t i = 0; i < cat->config->n_providers; i++) {
    const sb_provider_t *p = &cat->config->providers[i];
    breaker(&state, &opens, gw->health, sb_health_provider_slot(gw->health, p),
            "", p->name, now);
  }
  sb_catalog_release(cat);
  sb_buf_appendz(out, "# HELP switchboard_breaker_state Circuit breaker of "
                      "an endpoint: 0 closed, 1 open, 2 half-open (endpoints "
                      "used since the start; model \"\" is a provider's "
                      "pass-through ids).\n"
                      "# TYPE switchboard_breaker_state gauge\n");
  sb_buf_append_slice(out, sb_buf_slice(&state));
  sb_buf_appendz(out, "# HELP switchboard_breaker_opens_total Times an "
                      "endpoint's circuit breaker opened.\n"
                      "# TYPE switchboard_breaker_opens_total counter\n");
  sb_buf_append_slice(out, sb_buf_slice(&opens));
  sb_buf_free(&state);
  sb_buf_free(&opens);
}

/* Resident memory (/proc/self/statm) and open file descriptors. */
static void process(sb_buf_t *out)
{
  unsigned long long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f != NULL) {
    if (fscanf(f, "%llu %llu", &pages, &resident) != 2)
      resident = 0;
    fclose(f);
  }
  long page = sysconf(_SC_PAGESIZE);
  unsigned long long fds = 0;
  DIR *d = opendir("/proc/self/fd");
  if (d != NULL) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
      if (e->d_name[0] != '.')
        fds++;
    closedir(d);
    fds--; /* the directory's own */
  }
  sb_buf_appendf(out,
                 "# HELP process_resident_memory_bytes Resident memory size "
                 "in bytes.\n"
                 "# TYPE process_resident_memory_bytes gauge\n"
                 "process_resident_memory_bytes %llu\n"
                 "# HELP process_open_fds Number of open file descriptors.\n"
                 "# TYPE process_open_fds gauge\n"
                 "process_open_fds %llu\n",
                 resident * (unsigned long long)(page > 0 ? page : 4096), fds);
}

void sb_ops_scrape(sb_gateway_t *gw, sb_buf_t *out)
{
  if (gw->ops != NULL) {
    sb_metrics_render(sb_ops_metrics(gw->ops), out);
    sb_ops_render_metrics(gw->ops, out);
  }
  if (gw->health != NULL)
    breakers(gw, out);
  process(out);
}
