/* The REST API's route table and the handlers it names. */
#ifndef API_ROUTES_H
#define API_ROUTES_H

#include <stddef.h>

#include "api/http.h"

extern const struct route routes[];
extern const size_t routes_count;

/* Handlers, by file: api/h_misc.c, api/h_tenants.c, api/h_hosts.c, api/h_instances.c,
 * api/h_agent.c. */
void h_healthz(struct req *r);
void h_metrics(struct req *r);
void h_tenant_create(struct req *r);
void h_tenant_list(struct req *r);
void h_tenant_get(struct req *r);
void h_tenant_delete(struct req *r);
void h_token_create(struct req *r);
void h_token_list(struct req *r);
void h_token_revoke(struct req *r);
void h_quota_set(struct req *r);
void h_plan_create(struct req *r);
void h_plan_list(struct req *r);
void h_plan_get(struct req *r);
void h_plan_delete(struct req *r);
void h_host_create(struct req *r);
void h_host_list(struct req *r);
void h_host_get(struct req *r);
void h_host_drain(struct req *r);
void h_host_undrain(struct req *r);
void h_host_delete(struct req *r);
void h_scheduler_get(struct req *r);
void h_scheduler_set(struct req *r);
void h_instance_create(struct req *r);
void h_instance_list(struct req *r);
void h_instance_get(struct req *r);
void h_instance_resize(struct req *r);
void h_instance_delete(struct req *r);
void h_event_list(struct req *r);
void h_agent_heartbeat(struct req *r);

#endif
