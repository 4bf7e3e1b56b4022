#pragma once
// Jobs: the `/api/work` framework. A job is a configured run of a workflow (Kinesis import,
// Kinesis export, ...) with a state — running, paused, error (with the message) or completed —
// and counters; jobs are stored (records kJob) and survive restarts. A workflow validates a
// job's configuration and starts a JobRunner for every running job: on create, on resume, and
// at start-up (start_all). Pausing, deleting, a failure and stop_all destroy the runner, which
// stops it. Thread-safe.
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "storage/store.h"

namespace shoal::http {

enum class JobState { kRunning, kPaused, kError, kCompleted };
std::string_view job_state_name(JobState state);

struct Job {
  std::string id;
  std::string workflow;
  std::string name;
  std::string config_json = "{}";  // the workflow's configuration (never secrets: use auth_ids)
  std::vector<std::string> auth_ids;
  JobState state = JobState::kRunning;
  std::string error;  // when state is kError
  std::map<std::string, std::uint64_t> counters;
  // Current values a running job reports (MillisBehindLatest, shards owned): live only, never
  // stored or added up.
  std::map<std::string, std::uint64_t> gauges;
  TimestampMs created_ms = 0;
  TimestampMs updated_ms = 0;
};

// A started job. Destroying it stops it (its threads are joined), so it must not be destroyed
// on one of its own threads: Jobs never does.
class JobRunner {
 public:
  virtual ~JobRunner() = default;
  // Counters since this runner started (any thread); Jobs adds them to the job's stored ones.
  virtual std::map<std::string, std::uint64_t> counters() const = 0;
  // Current values (not totals): shown while the runner runs, never added to the stored job.
  virtual std::map<std::string, std::uint64_t> gauges() const { return {}; }
};

// How a runner reports the end of its work, from any of its threads. After calling either it
// does no more work; Jobs destroys it later from another thread.
struct JobEvents {
  std::function<void(std::string message)> fail;  // the job enters `error` with the message
  std::function<void()> complete;                 // the job enters `completed`
};

struct Workflow {
  std::string name;
  std::string description;
  // Checks a job's configuration before it is created; the message says what to fix.
  std::function<Status(const Job& job)> validate;
  // Starts a running job. Null: the workflow is bookkeeping only (tests). An error puts the job
  // in `error` with the message.
  std::function<Result<std::unique_ptr<JobRunner>>(const Job& job, JobEvents events)> start;
  // The job was deleted (its runner already stopped): remove what it stored of its own.
  std::function<Status(const Job& job)> forget;
};

class Jobs {
 public:
  // `clock` times the state changes runners report.
  Jobs(storage::Store& store, const Clock& clock) : store_(store), clock_(clock) {}
  ~Jobs();  // stop_all()
  Jobs(const Jobs&) = delete;
  Jobs& operator=(const Jobs&) = delete;

  void add_workflow(Workflow workflow);
  std::vector<std::string> workflow_names() const;

  Status load();
  // Starts a runner for every stored running job (after load, once the engine runs).
  void start_all(TimestampMs now);
  // Stops every runner and stores their counters (before the engine stops).
  void stop_all();
  Result<Job> create(Job job, TimestampMs now);
  // Jobs with live counters (stored plus the runner's).
  std::vector<Job> list() const;
  std::optional<Job> get(std::string_view id) const;
  // pause: running -> paused; resume: paused or error -> running. kFailedPrecondition otherwise.
  Result<Job> pause(std::string_view id, TimestampMs now);
  Result<Job> resume(std::string_view id, TimestampMs now);
  Status remove(std::string_view id);
  // An authorization was deleted: every job that uses it stops with an error.
  Status authorization_removed(std::string_view auth_id, TimestampMs now);

 private:
  Status write(const Job& job);
  Job* find(std::string_view id);
  Job with_live_counters(const Job& job) const;  // mutex_ held
  // Starts `job`'s runner outside the lock; records it, or the error, under the lock.
  void start_runner(const Job& job, TimestampMs now);
  // Detaches the runner of `id` with its counters added to the job (mutex_ held); the caller
  // destroys the returned runner after unlocking.
  std::unique_ptr<JobRunner> detach_runner(Job& job);
  // A runner reported the end of its work.
  void finished(const std::string& id, std::uint64_t generation, JobState state,
                std::string message);
  void destroy_retired();

  storage::Store& store_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  std::map<std::string, Workflow, std::less<>> workflows_;
  std::vector<Job> jobs_;
  struct Running {
    std::unique_ptr<JobRunner> runner;
    std::uint64_t generation = 0;  // tells a stale runner's late report from the current one's
  };
  std::map<std::string, Running, std::less<>> runners_;
  std::vector<std::unique_ptr<JobRunner>> retired_;  // ended on their own thread
  struct EarlyFinish {
    std::uint64_t generation = 0;
    JobState state = JobState::kError;
    std::string message;
  };
  // Reports from runners that ended before start_runner registered them.
  std::map<std::string, EarlyFinish, std::less<>> early_finishes_;
  std::uint64_t next_generation_ = 1;
};

}  // namespace shoal::http
