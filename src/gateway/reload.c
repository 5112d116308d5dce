/* SPDX-License-Identifier: MIT */
/*
 * SIGHUP: the reload hook (`systemctl reload switchboard`, whose unit sends
 * SIGHUP). A live reload of the configuration is not implemented yet: the
 * signal is taken, logged and otherwise ignored, so a reload never stops
 * the service. The config file is read once, at start; a changed file takes
 * effect with a restart.
 */
#include "switchboard/gateway.h"
#include "switchboard/log.h"

sb_status_t sb_gateway_reload(sb_gateway_t *gw)
{
  SB_WARN("SIGHUP: live reload is not implemented yet; still serving with "
          "the configuration read at start (%s). Restart to apply changes",
          gw->config->source != NULL ? gw->config->source : "environment");
  return SB_DECLINED;
}
