#include "http/jobs.h"

#include <openssl/rand.h>

#include <algorithm>
#include <boost/json.hpp>

#include "aws/crypto.h"
#include "http/json_records.h"
#include "storage/codec.h"

namespace shoal::http {
namespace {

namespace json = boost::json;

std::string record_key(std::string_view id) { return json_record_key(storage::RecordType::kJob, id); }

std::optional<JobState> parse_state(std::string_view text) {
  for (JobState s : {JobState::kRunning, JobState::kPaused, JobState::kError, JobState::kCompleted}) {
    if (job_state_name(s) == text) return s;
  }
  return std::nullopt;
}

}  // namespace

std::string_view job_state_name(JobState state) {
  switch (state) {
    case JobState::kRunning: return "running";
    case JobState::kPaused: return "paused";
    case JobState::kError: return "error";
    case JobState::kCompleted: return "completed";
  }
  return "error";
}

void Jobs::add_workflow(Workflow workflow) {
  std::lock_guard lock(mutex_);
  std::string name = workflow.name;
  workflows_[name] = std::move(workflow);
}

std::vector<std::string> Jobs::workflow_names() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [name, w] : workflows_) out.push_back(name);
  return out;
}

Status Jobs::write(const Job& job) {
  json::object counters;
  for (const auto& [k, v] : job.counters) counters[k] = v;
  json::array auth_ids;
  for (const std::string& a : job.auth_ids) auth_ids.push_back(json::value(a));
  json::error_code ec;
  json::value config = json::parse(job.config_json, ec);
  json::object o{{"id", job.id},           {"workflow", job.workflow},
                 {"name", job.name},       {"config", ec ? json::value(json::object()) : config},
                 {"auth_ids", auth_ids},   {"state", job_state_name(job.state)},
                 {"error", job.error},     {"counters", counters},
                 {"created", job.created_ms}, {"updated", job.updated_ms}};
  storage::Batch batch;
  batch.put(record_key(job.id), json::serialize(o));
  return store_.write(batch);
}

Status Jobs::load() {
  std::vector<Job> loaded;
  SHOAL_RETURN_IF_ERROR(
      scan_json_records(store_, storage::RecordType::kJob, "job", [&](const json::object& o) {
        Job job;
        job.id = json_text(o, "id");
        job.workflow = json_text(o, "workflow");
        job.name = json_text(o, "name");
        job.error = json_text(o, "error");
        job.state = parse_state(json_text(o, "state")).value_or(JobState::kError);
        if (const json::value* c = o.if_contains("config")) job.config_json = json::serialize(*c);
        if (const json::value* a = o.if_contains("auth_ids"); a && a->is_array()) {
          for (const json::value& id : a->as_array()) {
            if (id.is_string()) job.auth_ids.emplace_back(id.as_string());
          }
        }
        if (const json::value* c = o.if_contains("counters"); c && c->is_object()) {
          for (const auto& entry : c->as_object()) {
            if (entry.value().is_uint64()) job.counters[entry.key()] = entry.value().as_uint64();
            if (entry.value().is_int64()) {
              job.counters[entry.key()] = static_cast<std::uint64_t>(entry.value().as_int64());
            }
          }
        }
        job.created_ms = json_int(o, "created");
        job.updated_ms = json_int(o, "updated");
        loaded.push_back(std::move(job));
      }));
  std::lock_guard lock(mutex_);
  jobs_ = std::move(loaded);
  return ok_status();
}

Result<Job> Jobs::create(Job job, TimestampMs now) {
  destroy_retired();
  std::unique_lock lock(mutex_);
  auto workflow = workflows_.find(job.workflow);
  if (workflow == workflows_.end()) {
    std::string known;
    for (const auto& [name, w] : workflows_) known += (known.empty() ? "" : ", ") + name;
    return make_error(ErrorCode::kInvalidArgument,
                      "unknown workflow \"" + job.workflow + "\" (known: " +
                          (known.empty() ? "none yet" : known) + ")");
  }
  if (workflow->second.validate) SHOAL_RETURN_IF_ERROR(workflow->second.validate(job));
  std::string raw(8, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), 8) != 1) {
    return make_error(ErrorCode::kInternal, "the system's random generator failed");
  }
  job.id = aws::hex_encode(raw);
  job.state = JobState::kRunning;
  job.error.clear();
  job.created_ms = now;
  job.updated_ms = now;
  SHOAL_RETURN_IF_ERROR(write(job));
  jobs_.push_back(job);
  lock.unlock();
  start_runner(job, now);
  auto current = get(job.id);
  return current ? *current : job;
}

std::vector<Job> Jobs::list() const {
  std::lock_guard lock(mutex_);
  std::vector<Job> out;
  out.reserve(jobs_.size());
  for (const Job& job : jobs_) out.push_back(with_live_counters(job));
  return out;
}

Job Jobs::with_live_counters(const Job& job) const {
  auto running = runners_.find(job.id);
  if (running == runners_.end()) return job;
  Job out = job;
  for (const auto& [name, value] : running->second.runner->counters()) out.counters[name] += value;
  out.gauges = running->second.runner->gauges();
  return out;
}

Jobs::~Jobs() { stop_all(); }

void Jobs::start_all(TimestampMs now) {
  destroy_retired();
  std::vector<Job> running;
  {
    std::lock_guard lock(mutex_);
    for (const Job& job : jobs_) {
      if (job.state == JobState::kRunning && !runners_.count(job.id)) running.push_back(job);
    }
  }
  for (const Job& job : running) start_runner(job, now);
}

void Jobs::stop_all() {
  std::vector<std::unique_ptr<JobRunner>> stopped;
  {
    std::lock_guard lock(mutex_);
    for (Job& job : jobs_) {
      if (auto runner = detach_runner(job)) {
        (void)write(job);  // best effort: the counters; the state stays running for the restart
        stopped.push_back(std::move(runner));
      }
    }
  }
  stopped.clear();
  destroy_retired();
}

void Jobs::start_runner(const Job& job, TimestampMs now) {
  std::function<Result<std::unique_ptr<JobRunner>>(const Job&, JobEvents)> start;
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(mutex_);
    auto workflow = workflows_.find(job.workflow);
    if (workflow == workflows_.end() || !workflow->second.start) return;
    start = workflow->second.start;
    generation = next_generation_++;
  }
  std::string id = job.id;
  JobEvents events;
  events.fail = [this, id, generation](std::string message) {
    finished(id, generation, JobState::kError, std::move(message));
  };
  events.complete = [this, id, generation] { finished(id, generation, JobState::kCompleted, ""); };
  auto runner = start(job, std::move(events));
  std::unique_ptr<JobRunner> discard;
  {
    std::lock_guard lock(mutex_);
    Job* current = find(id);
    if (!runner.ok()) {
      if (current && current->state == JobState::kRunning) {
        current->state = JobState::kError;
        current->error = runner.error().message;
        current->updated_ms = now;
        (void)write(*current);
      }
      return;
    }
    auto early = early_finishes_.find(id);
    std::optional<EarlyFinish> finish;
    if (early != early_finishes_.end()) {
      if (early->second.generation == generation) finish = std::move(early->second);
      early_finishes_.erase(early);
    }
    // Paused, failed or deleted while it started: it is not wanted.
    if (!current || current->state != JobState::kRunning || runners_.count(id)) {
      discard = std::move(runner.value());
    } else if (finish) {
      // It ended (on its own thread) before it was registered here.
      for (const auto& [name, value] : runner.value()->counters()) current->counters[name] += value;
      discard = std::move(runner.value());
      current->state = finish->state;
      current->error = std::move(finish->message);
      current->updated_ms = clock_.now_ms();
      (void)write(*current);
    } else {
      runners_[id] = Running{std::move(runner.value()), generation};
    }
  }
}

std::unique_ptr<JobRunner> Jobs::detach_runner(Job& job) {
  auto running = runners_.find(job.id);
  if (running == runners_.end()) return nullptr;
  for (const auto& [name, value] : running->second.runner->counters()) job.counters[name] += value;
  std::unique_ptr<JobRunner> runner = std::move(running->second.runner);
  runners_.erase(running);
  return runner;
}

void Jobs::finished(const std::string& id, std::uint64_t generation, JobState state,
                    std::string message) {
  std::lock_guard lock(mutex_);
  auto running = runners_.find(id);
  if (running == runners_.end()) {
    // Still starting (start_runner registers it after `start` returns): it applies this then.
    early_finishes_[id] = EarlyFinish{generation, state, std::move(message)};
    return;
  }
  if (running->second.generation != generation) return;
  Job* job = find(id);
  if (!job) return;
  // Called on the runner's own thread: it is destroyed later, elsewhere.
  retired_.push_back(detach_runner(*job));
  job->state = state;
  job->error = std::move(message);
  job->updated_ms = clock_.now_ms();
  (void)write(*job);
}

void Jobs::destroy_retired() {
  std::vector<std::unique_ptr<JobRunner>> retired;
  {
    std::lock_guard lock(mutex_);
    retired.swap(retired_);
  }
}

Job* Jobs::find(std::string_view id) {
  auto it = std::find_if(jobs_.begin(), jobs_.end(), [&](const Job& j) { return j.id == id; });
  return it == jobs_.end() ? nullptr : &*it;
}

std::optional<Job> Jobs::get(std::string_view id) const {
  std::lock_guard lock(mutex_);
  for (const Job& j : jobs_) {
    if (j.id == id) return with_live_counters(j);
  }
  return std::nullopt;
}

Result<Job> Jobs::pause(std::string_view id, TimestampMs now) {
  destroy_retired();
  std::unique_ptr<JobRunner> stopped;
  std::lock_guard lock(mutex_);
  Job* job = find(id);
  if (!job) return make_error(ErrorCode::kNotFound, "no job has id \"" + std::string(id) + "\"");
  if (job->state != JobState::kRunning) {
    return make_error(ErrorCode::kFailedPrecondition,
                      "only a running job can be paused; this one is " +
                          std::string(job_state_name(job->state)));
  }
  stopped = detach_runner(*job);
  Job changed = *job;
  changed.state = JobState::kPaused;
  changed.updated_ms = now;
  SHOAL_RETURN_IF_ERROR(write(changed));
  *job = changed;
  return changed;
}

Result<Job> Jobs::resume(std::string_view id, TimestampMs now) {
  destroy_retired();
  std::unique_lock lock(mutex_);
  Job* job = find(id);
  if (!job) return make_error(ErrorCode::kNotFound, "no job has id \"" + std::string(id) + "\"");
  if (job->state != JobState::kPaused && job->state != JobState::kError) {
    return make_error(ErrorCode::kFailedPrecondition,
                      "only a paused or failed job can be resumed; this one is " +
                          std::string(job_state_name(job->state)));
  }
  Job changed = *job;
  changed.state = JobState::kRunning;
  changed.error.clear();
  changed.updated_ms = now;
  SHOAL_RETURN_IF_ERROR(write(changed));
  *job = changed;
  lock.unlock();
  start_runner(changed, now);
  auto current = get(changed.id);
  return current ? *current : changed;
}

Status Jobs::remove(std::string_view id) {
  destroy_retired();
  std::unique_ptr<JobRunner> stopped;
  Job removed;
  std::function<Status(const Job&)> forget;
  {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(jobs_.begin(), jobs_.end(), [&](const Job& j) { return j.id == id; });
    if (it == jobs_.end()) {
      return make_error(ErrorCode::kNotFound, "no job has id \"" + std::string(id) + "\"");
    }
    stopped = detach_runner(*it);
    storage::Batch batch;
    batch.erase(record_key(id));
    SHOAL_RETURN_IF_ERROR(store_.write(batch));
    removed = std::move(*it);
    jobs_.erase(it);
    if (auto workflow = workflows_.find(removed.workflow); workflow != workflows_.end()) {
      forget = workflow->second.forget;
    }
  }
  stopped.reset();  // stop it before its state goes
  if (forget) return forget(removed);
  return ok_status();
}

Status Jobs::authorization_removed(std::string_view auth_id, TimestampMs now) {
  destroy_retired();
  std::vector<std::unique_ptr<JobRunner>> stopped;  // destroyed after the lock
  std::lock_guard lock(mutex_);
  for (Job& job : jobs_) {
    if (std::find(job.auth_ids.begin(), job.auth_ids.end(), auth_id) == job.auth_ids.end()) {
      continue;
    }
    if (auto runner = detach_runner(job)) stopped.push_back(std::move(runner));
    Job changed = job;
    changed.state = JobState::kError;
    changed.error = "authorization " + std::string(auth_id) + " was deleted";
    changed.updated_ms = now;
    SHOAL_RETURN_IF_ERROR(write(changed));
    job = changed;
  }
  return ok_status();
}

}  // namespace shoal::http
