#include "http/metrics.h"

#include <cstdio>

namespace shoal::http {
namespace {

// A Prometheus label value: backslash, quote and newline escaped.
void append_label(std::string_view value, std::string& out) {
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void append_double(double v, std::string& out) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", v);
  out += buffer;
}

void counter(std::string& out, std::string_view name, std::string_view help, std::uint64_t v,
             std::string_view type = "counter") {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
  out += name;
  out += ' ';
  out += std::to_string(v);
  out += '\n';
}

}  // namespace

void HttpMetrics::record(std::string_view route, int status, double seconds) {
  std::lock_guard lock(mutex_);
  ++requests_[{std::string(route), status}];
  auto it = latency_.find(route);
  if (it == latency_.end()) it = latency_.emplace(std::string(route), Histogram{}).first;
  Histogram& h = it->second;
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.counts[i];
  }
  ++h.count;
  h.sum += seconds;
}

void HttpMetrics::render(std::string& out) const {
  std::lock_guard lock(mutex_);
  out += "# HELP shoal_http_requests_total HTTP requests by route and status.\n";
  out += "# TYPE shoal_http_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    out += "shoal_http_requests_total{route=\"";
    append_label(key.first, out);
    out += "\",status=\"";
    out += std::to_string(key.second);
    out += "\"} ";
    out += std::to_string(count);
    out += '\n';
  }
  out += "# HELP shoal_http_request_seconds HTTP request latency by route.\n";
  out += "# TYPE shoal_http_request_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      out += "shoal_http_request_seconds_bucket{route=\"";
      append_label(route, out);
      out += "\",le=\"";
      append_double(kBuckets[i], out);
      out += "\"} ";
      out += std::to_string(h.counts[i]);
      out += '\n';
    }
    out += "shoal_http_request_seconds_bucket{route=\"";
    append_label(route, out);
    out += "\",le=\"+Inf\"} " + std::to_string(h.count) + "\n";
    out += "shoal_http_request_seconds_sum{route=\"";
    append_label(route, out);
    out += "\"} ";
    append_double(h.sum, out);
    out += "\nshoal_http_request_seconds_count{route=\"";
    append_label(route, out);
    out += "\"} " + std::to_string(h.count) + "\n";
  }
}

void render_engine_metrics(const engine::PartitionStats& stats, std::string& out) {
  const engine::EngineCounters& c = stats.engine;
  counter(out, "shoal_events_in_total", "Events handed to the engine.", c.events_in);
  counter(out, "shoal_events_applied_total", "Events applied to a profile.", c.events_applied);
  counter(out, "shoal_events_rejected_total",
          "Events not applied (no mapping, WHERE rejected, no identity).",
          c.events_without_mapping + c.events_where_rejected + c.events_without_identity);
  counter(out, "shoal_fields_dropped_total", "Event fields that did not fit their kind.",
          c.fields_dropped);
  counter(out, "shoal_profiles", "Profiles that exist.", stats.profiles, "gauge");
  counter(out, "shoal_profiles_merged_total", "Profiles absorbed by identity stitching.",
          c.profiles_merged);
  counter(out, "shoal_profiles_deleted_total", "Profiles deleted.", c.profiles_deleted);
  counter(out, "shoal_triggers_emitted_total", "Segment enters and exits emitted.", c.triggers);
  counter(out, "shoal_evaluations_total", "Segment evaluations.", c.evaluations);
  counter(out, "shoal_commits_total", "Engine commits (RocksDB batches).", c.commits);
  counter(out, "shoal_commit_failures_total", "Engine commits that failed.",
          stats.commit_failures);
  counter(out, "shoal_checkpoints_total",
          "Engine checkpoints (changed profiles written, command log erased).", c.checkpoints);
  counter(out, "shoal_command_log_bytes_total", "Bytes of engine command-log records written.",
          c.log_bytes);
  counter(out, "shoal_command_log_records_replayed",
          "Command-log records re-run at start-up (after a crash).", c.log_records_replayed,
          "gauge");
  counter(out, "shoal_engine_queue_depth", "Work items waiting for the engine.",
          stats.queue_depth, "gauge");
  out += "# HELP shoal_segment_size Current members of a segment.\n";
  out += "# TYPE shoal_segment_size gauge\n";
  for (const auto& [slug, size] : stats.segment_sizes) {
    out += "shoal_segment_size{slug=\"";
    append_label(slug, out);
    out += "\"} ";
    out += std::to_string(size);
    out += '\n';
  }
}

namespace {

void job_labels(const Job& job, std::string& out) {
  out += "job=\"";
  append_label(job.id, out);
  out += "\",workflow=\"";
  append_label(job.workflow, out);
  out += "\",name=\"";
  append_label(job.name, out);
  out += '"';
}

std::string metric_name(std::string_view counter) {
  std::string name = "shoal_job_";
  for (char c : counter) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    name += ok ? c : '_';
  }
  return name;
}

}  // namespace

void render_job_metrics(const std::vector<Job>& jobs, std::string& out) {
  out += "# HELP shoal_job_up 1 for a job in the labelled state.\n# TYPE shoal_job_up gauge\n";
  std::map<std::string, std::vector<std::pair<const Job*, std::uint64_t>>> series;
  std::map<std::string, std::vector<std::pair<const Job*, std::uint64_t>>> gauges;
  for (const Job& job : jobs) {
    out += "shoal_job_up{";
    job_labels(job, out);
    out += ",state=\"";
    out += job_state_name(job.state);
    out += "\"} 1\n";
    for (const auto& [counter, value] : job.counters) {
      series[metric_name(counter)].emplace_back(&job, value);
    }
    for (const auto& [gauge, value] : job.gauges) {
      gauges[metric_name(gauge)].emplace_back(&job, value);
    }
  }
  for (const auto& [name, values] : gauges) {
    out += "# TYPE " + name + " gauge\n";
    for (const auto& [job, value] : values) {
      out += name + "{";
      job_labels(*job, out);
      out += "} " + std::to_string(value) + "\n";
    }
  }
  for (const auto& [name, values] : series) {
    out += "# TYPE " + name + " untyped\n";
    for (const auto& [job, value] : values) {
      out += name + "{";
      job_labels(*job, out);
      out += "} " + std::to_string(value) + "\n";
    }
  }
}

}  // namespace shoal::http
