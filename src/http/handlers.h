#pragma once
// Shared by the *_handler.cc files (not part of the module's interface).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "http/api.h"

namespace shoal::http {

void add_collect_routes(Router& router, ApiContext& context);
void add_entity_routes(Router& router, ApiContext& context);
void add_segment_routes(Router& router, ApiContext& context);
void add_query_routes(Router& router, ApiContext& context);
void add_keys_routes(Router& router, ApiContext& context);
void add_auth_routes(Router& router, ApiContext& context);
void add_work_routes(Router& router, ApiContext& context);
void add_import_routes(Router& router, ApiContext& context);  // import_handler.cc
void add_metrics_routes(Router& router, ApiContext& context);
void add_subscription_routes(Router& router, ApiContext& context);

// The HTTP status for an error code (kInvalidArgument -> 400, kNotFound -> 404, ...).
int status_for(ErrorCode code);
Response error_from(const Error& error);

// Runs `work` on the engine thread and responds with its Response after the batch commits
// (503 when the commit or the queue fails).
void on_engine(ApiContext& context, Responder respond,
               std::function<Response(engine::Engine&)> work);

// A profile as JSON: identities and fields, `_id`, `_created`, `_modified` and `_segments`
// ([{"id","slug","enter"}]). When `fields` is not empty only those fields are included.
std::string profile_json(const model::Profile& profile, const segment::Catalog& catalog,
                         const std::vector<std::string>& fields = {});

// Splits "a,b,c" (empty parts dropped).
std::vector<std::string> split_list(std::string_view text);

}  // namespace shoal::http
