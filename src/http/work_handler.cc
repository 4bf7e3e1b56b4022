// /api/work: jobs — create, list, get, pause, resume, delete.
#include <boost/json.hpp>

#include "core/time_format.h"
#include "http/handlers.h"

namespace shoal::http {
namespace {

namespace json = boost::json;

json::object job_object(const Job& job) {
  json::error_code ec;
  json::value config = json::parse(job.config_json, ec);
  json::array auth_ids;
  for (const std::string& a : job.auth_ids) auth_ids.push_back(json::value(a));
  json::object counters;
  for (const auto& [k, v] : job.counters) counters[k] = v;
  json::object gauges;
  for (const auto& [k, v] : job.gauges) gauges[k] = v;
  json::object o{{"id", job.id},
                 {"workflow", job.workflow},
                 {"name", job.name},
                 {"config", ec ? json::value(json::object()) : config},
                 {"auth_ids", std::move(auth_ids)},
                 {"state", job_state_name(job.state)},
                 {"counters", std::move(counters)},
                 {"gauges", std::move(gauges)},
                 {"created", format_iso8601_ms(job.created_ms)},
                 {"updated", format_iso8601_ms(job.updated_ms)}};
  if (job.state == JobState::kError) o["error"] = job.error;
  return o;
}

Response unavailable() { return error_response(503, "jobs are unavailable"); }

void command(ApiContext& context, Request& request, Responder respond, bool pause) {
  if (!context.jobs) return respond(unavailable());
  std::string id(request.path_param("id"));
  TimestampMs now = context.clock.now_ms();
  auto job = pause ? context.jobs->pause(id, now) : context.jobs->resume(id, now);
  if (!job.ok()) return respond(error_from(job.error()));
  respond(envelope(200, pause ? "paused" : "resumed", json::serialize(job_object(job.value()))));
}

}  // namespace

void add_work_routes(Router& router, ApiContext& context) {
  router.add("GET", "/api/work", Access::kAdmin, [&context](Request&, Responder respond) {
    if (!context.jobs) return respond(unavailable());
    json::array list;
    for (const Job& job : context.jobs->list()) list.push_back(job_object(job));
    respond(envelope(200, "success", json::serialize(list)));
  });
  router.add("POST", "/api/work", Access::kAdmin, [&context](Request& request, Responder respond) {
    if (!context.jobs) return respond(unavailable());
    json::error_code ec;
    json::value body = json::parse(request.body, ec);
    if (ec || !body.is_object()) {
      return respond(error_response(
          400, "send JSON {\"workflow\": \"...\", \"name\": \"...\", \"config\": {...}, "
               "\"auth_ids\": [...]}"));
    }
    const json::object& o = body.as_object();
    Job job;
    if (const json::value* v = o.if_contains("workflow"); v && v->is_string()) {
      job.workflow = std::string(v->as_string());
    }
    if (const json::value* v = o.if_contains("name"); v && v->is_string()) {
      job.name = std::string(v->as_string());
    }
    if (const json::value* v = o.if_contains("config")) {
      if (!v->is_object()) return respond(error_response(400, "\"config\" must be an object"));
      job.config_json = json::serialize(*v);
    }
    if (const json::value* v = o.if_contains("auth_ids"); v && v->is_array()) {
      for (const json::value& id : v->as_array()) {
        if (!id.is_string()) return respond(error_response(400, "\"auth_ids\" holds strings"));
        std::string auth_id(id.as_string());
        if (!context.authorizations || !context.authorizations->get(auth_id)) {
          return respond(error_response(400, "no authorization has id \"" + auth_id + "\""));
        }
        job.auth_ids.push_back(std::move(auth_id));
      }
    }
    auto created = context.jobs->create(std::move(job), context.clock.now_ms());
    if (!created.ok()) return respond(error_from(created.error()));
    respond(envelope(201, "created", json::serialize(job_object(created.value()))));
  });
  router.add("GET", "/api/work/{id}", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               if (!context.jobs) return respond(unavailable());
               auto job = context.jobs->get(request.path_param("id"));
               if (!job) return respond(error_response(404, "no such job"));
               respond(envelope(200, "success", json::serialize(job_object(*job))));
             });
  router.add("DELETE", "/api/work/{id}", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               if (!context.jobs) return respond(unavailable());
               Status removed = context.jobs->remove(request.path_param("id"));
               if (!removed.ok()) return respond(error_from(removed.error()));
               respond(envelope(200, "deleted", "{\"deleted\":true}"));
             });
  router.add("POST", "/api/work/{id}/pause", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               command(context, request, std::move(respond), true);
             });
  router.add("POST", "/api/work/{id}/resume", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               command(context, request, std::move(respond), false);
             });
}

}  // namespace shoal::http
