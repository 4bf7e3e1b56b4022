#pragma once
// HttpMetrics: requests by route and status and latency histograms per route, rendered in the
// Prometheus text format together with the engine's counters. Thread-safe.
#include <array>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "engine/partition.h"
#include "http/jobs.h"

namespace shoal::http {

class HttpMetrics {
 public:
  void record(std::string_view route, int status, double seconds);
  // Appends the HTTP series.
  void render(std::string& out) const;

 private:
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1.0,  5.0};
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> counts{};
    std::uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;
  std::map<std::string, Histogram, std::less<>> latency_;
};

// The engine's series from a partition's published stats.
void render_engine_metrics(const engine::PartitionStats& stats, std::string& out);
// Per job: `shoal_job_up{job,workflow,name,state}` and one series per counter the job reports,
// `shoal_job_<counter>{job,workflow,name}` and one gauge per current value a running job
// reports (names made Prometheus-safe).
void render_job_metrics(const std::vector<Job>& jobs, std::string& out);

}  // namespace shoal::http
