/* The handlers that the route table (api/routes.c) names, by the file that holds them: one file
 * per resource. Each leaves a reply in r, or parks it (http_park). */
#ifndef API_HANDLERS_H
#define API_HANDLERS_H

#include "api/http.h"

/* api/health.c: health and metrics */
void h_healthz(struct req *r);
void h_metrics(struct req *r);
/* api/tenants.c: tenants, their API tokens and quotas */
void h_tenant_create(struct req *r);
void h_tenant_list(struct req *r);
void h_tenant_get(struct req *r);
void h_tenant_delete(struct req *r);
void h_token_create(struct req *r);
void h_token_list(struct req *r);
void h_token_revoke(struct req *r);
void h_quota_set(struct req *r);
/* api/plans.c */
void h_plan_create(struct req *r);
void h_plan_list(struct req *r);
void h_plan_get(struct req *r);
void h_plan_delete(struct req *r);
/* api/hosts.c */
void h_host_create(struct req *r);
void h_host_list(struct req *r);
void h_host_get(struct req *r);
void h_host_drain(struct req *r);
void h_host_undrain(struct req *r);
void h_host_token(struct req *r);
void h_host_delete(struct req *r);
/* api/settings.c: the scheduler's settings */
void h_scheduler_get(struct req *r);
void h_scheduler_set(struct req *r);
/* api/ha.c: the HA settings and switchovers */
void h_ha_get(struct req *r);
void h_ha_set(struct req *r);
void h_instance_switchover(struct req *r);
void h_instance_reset_password(struct req *r);
/* api/instances.c */
void h_instance_create(struct req *r);
void h_instance_list(struct req *r);
void h_instance_get(struct req *r);
void h_instance_resize(struct req *r);
void h_instance_delete(struct req *r);
/* api/events.c */
void h_event_list(struct req *r);
/* api/heartbeat.c: the node agents' heartbeat */
void h_agent_heartbeat(struct req *r);

#endif
