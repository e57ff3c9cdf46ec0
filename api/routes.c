/* The REST API's route table: method, pattern, who may call it, handler. */
#include "api/routes.h"

#include "api/audit.h"
#include "api/handlers.h"
#include "api/optoken.h"

#define OP ROLE_OPERATOR
#define TN (ROLE_OPERATOR | ROLE_TENANT)
#define ANY (ROLE_OPERATOR | ROLE_TENANT | ROLE_HOST)

const struct route routes[] = {
    {{"GET", "/healthz"}, 0, h_healthz},
    {{"GET", "/metrics"}, OP, h_metrics},
    {{"POST", "/v1/tenants"}, OP, h_tenant_create},
    {{"GET", "/v1/tenants"}, OP, h_tenant_list},
    {{"GET", "/v1/tenants/{name}"}, OP, h_tenant_get},
    {{"DELETE", "/v1/tenants/{name}"}, OP, h_tenant_delete},
    {{"POST", "/v1/tenants/{name}/tokens"}, OP, h_token_create},
    {{"GET", "/v1/tenants/{name}/tokens"}, OP, h_token_list},
    {{"DELETE", "/v1/tenants/{name}/tokens/{id}"}, OP, h_token_revoke},
    {{"PUT", "/v1/tenants/{name}/quota"}, OP, h_quota_set},
    {{"POST", "/v1/plans"}, OP, h_plan_create},
    {{"GET", "/v1/plans"}, ANY, h_plan_list},
    {{"GET", "/v1/plans/{name}"}, ANY, h_plan_get},
    {{"DELETE", "/v1/plans/{name}"}, OP, h_plan_delete},
    {{"POST", "/v1/hosts"}, OP, h_host_create},
    {{"GET", "/v1/hosts"}, OP, h_host_list},
    {{"GET", "/v1/hosts/{name}"}, OP, h_host_get},
    {{"POST", "/v1/hosts/{name}/drain"}, OP, h_host_drain},
    {{"POST", "/v1/hosts/{name}/undrain"}, OP, h_host_undrain},
    {{"POST", "/v1/hosts/{name}/token"}, OP, h_host_token},
    {{"DELETE", "/v1/hosts/{name}"}, OP, h_host_delete},
    {{"POST", "/v1/operator/token"}, OP, h_operator_token},
    {{"GET", "/v1/audit"}, OP, h_audit_list},
    {{"GET", "/v1/scheduler"}, OP, h_scheduler_get},
    {{"PUT", "/v1/scheduler"}, OP, h_scheduler_set},
    {{"GET", "/v1/ha"}, OP, h_ha_get},
    {{"PUT", "/v1/ha"}, OP, h_ha_set},
    {{"POST", "/v1/instances"}, TN, h_instance_create},
    {{"GET", "/v1/instances"}, TN, h_instance_list},
    {{"GET", "/v1/instances/{id}"}, TN, h_instance_get},
    {{"PATCH", "/v1/instances/{id}"}, TN, h_instance_resize},
    {{"DELETE", "/v1/instances/{id}"}, TN, h_instance_delete},
    {{"POST", "/v1/instances/{id}/switchover"}, TN, h_instance_switchover},
    {{"POST", "/v1/instances/{id}/reset-password"}, TN, h_instance_reset_password},
    {{"GET", "/v1/events"}, TN, h_event_list},
    {{"POST", "/v1/agent/heartbeat"}, ROLE_HOST, h_agent_heartbeat},
};

const size_t routes_count = sizeof(routes) / sizeof(routes[0]);
