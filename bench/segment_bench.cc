#include "bench/segment_bench.h"

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <random>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "bench/workload.h"
#include "model/profile.h"
#include "segment/catalog.h"

namespace shoal::bench {
namespace {

using model::SegmentOrdinal;
using model::Value;

constexpr TimestampMs kDay = 86'400'000;
constexpr TimestampMs kNow = 1'700'000'000'000;

struct Options {
  int runs = 7;
  int min_ms = 100;
  int profiles = 8;
  std::uint64_t seed = 42;
};

bool parse_options(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::printf("shoal bench segments [--runs 7] [--min-ms 100] [--profiles 8] [--seed 42]\n");
      return false;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "segments: unknown option or missing value: %s\n", a.c_str());
      return false;
    }
    const std::string v = argv[++i];
    if (a == "--runs") {
      o.runs = std::max(1, std::stoi(v));
    } else if (a == "--min-ms") {
      o.min_ms = std::max(1, std::stoi(v));
    } else if (a == "--profiles") {
      o.profiles = std::max(1, std::stoi(v));
    } else if (a == "--seed") {
      o.seed = std::stoull(v);
    } else {
      std::fprintf(stderr, "segments: unknown option %s (see --help)\n", a.c_str());
      return false;
    }
  }
  return true;
}

// Rationale: GCC 12 warns falsely (-Wrestrict) on `"literal" + std::string`.
std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) out += p;
  return out;
}

struct Kind {
  const char* name;
  int residue;  // i % 10 in workload_segments (bench/workload.cc)
};

constexpr Kind kKinds[] = {
    {"plan == \"..\"", 0},
    {"AND(age >= k, country IN (..))", 1},
    {"visits >= k", 2},
    {"last_seen > \"now-Nd\"", 3},
    {"countsince(purchases, \"now-Nd\") >= k", 4},
    {"first_seen <= \"now-Nd\"", 5},
    {"AND(revenue > k, EXISTS email)", 6},
    {"events_seen INTERSECTS (..)", 7},
    {"AND(INCLUDE a, INCLUDE b)", 8},
    {"OR(INCLUDE a, plan == \"pro\")", 9},
};

// A profile like the engine's after a few events: identities user_id and email, 12 fields.
model::Profile make_profile(std::mt19937_64& rng, std::size_t series_size, int index) {
  static const char* kPlans[] = {"free", "basic", "pro", "team"};
  static const char* kCountries[] = {"US", "DE", "FR", "GB", "JP", "BR", "IN", "CA"};
  static const char* kEvents[] = {"view", "click", "purchase", "signup"};
  auto below = [&](std::uint64_t n) { return static_cast<std::int64_t>(rng() % n); };
  model::Profile p;
  p.id = model::ProfileId{static_cast<std::uint64_t>(index + 1)};
  p.created_ms = kNow - 60 * kDay;
  p.modified_ms = kNow;
  const std::string user = cat({"u", std::to_string(1000 + index)});
  p.add_identity("user_id", user);
  const bool has_email = index % 3 != 2;
  if (has_email) p.add_identity("email", user + (index % 2 ? "@example.com" : "@mail.test"));
  auto set = [&](std::string_view name, Value v) { p.field_slot(name).value = std::move(v); };
  set("user_id", Value(user));
  if (has_email) set("email", Value(user + (index % 2 ? "@example.com" : "@mail.test")));
  set("plan", Value(kPlans[below(4)]));
  set("country", Value(kCountries[below(8)]));
  set("age", Value(std::int64_t{18 + below(50)}));
  set("visits", Value(std::int64_t{1 + below(40)}));
  set("revenue", Value(std::int64_t{below(300)}));
  set("first_seen", Value(model::Date{kNow - below(40 * kDay)}));
  set("last_seen", Value(model::Date{kNow - below(20 * kDay)}));
  set("city", Value(std::string("Springfield")));
  set("device", Value(std::string(index % 2 ? "ios" : "web")));
  model::ValueList events;
  for (const char* e : kEvents) {
    if (below(2) == 0) events.emplace_back(e);
  }
  set("events_seen", Value(std::move(events)));
  model::TimeSeries purchases;
  for (std::size_t k = 0; k < series_size; ++k) purchases.push_back(kNow - below(60 * kDay));
  std::sort(purchases.begin(), purchases.end(), std::greater<>());
  set("purchases", Value(std::move(purchases)));
  return p;
}

// Median of `runs` timings of fn(), each repeated until it lasts min_ms; ns per call, where one
// fn() makes `calls_per_round` calls.
// Rationale: the thread's CPU time rather than wall time, so that time the shared 2-core
// machine gives to other processes does not count.
double thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

template <class Fn>
double median_ns(const Options& o, std::size_t calls_per_round, Fn&& fn) {
  std::vector<double> samples;
  for (int run = 0; run < o.runs; ++run) {
    std::size_t rounds = 0;
    const double start = thread_cpu_ns();
    double elapsed = 0;
    do {
      for (int k = 0; k < 16; ++k) fn();
      rounds += 16;
      elapsed = thread_cpu_ns() - start;
    } while (elapsed < o.min_ms * 1e6);
    samples.push_back(elapsed / static_cast<double>(rounds * calls_per_round));
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

// Stretch prototype, not the model's code: ProfileFieldSource::find with a linear scan that
// checks the name's length before comparing bytes, for profiles of a few dozen fields; same
// answers (exact field, then identity, then the original for _created, _modified and "a.b").
class ScanFieldSource final : public model::FieldSource {
 public:
  using model::FieldSource::find;
  explicit ScanFieldSource(const model::Profile& profile) : profile_(profile), original_(profile) {}
  const Value* find(std::string_view path) const override {
    auto same = [&](const std::string& name) {
      return name.size() == path.size() && std::memcmp(name.data(), path.data(), path.size()) == 0;
    };
    for (const auto& [name, field] : profile_.fields) {
      if (same(name.str())) return &field.value;
    }
    for (const model::Identity& id : profile_.identities) {
      if (same(id.field.str())) return &id.values;
    }
    return original_.find(path);
  }

 private:
  const model::Profile& profile_;
  model::ProfileFieldSource original_;
};

volatile std::int64_t g_sink = 0;  // keeps results observable so the calls are not elided

}  // namespace

int run_segment_bench(int argc, char** argv) {
  Options o;
  if (!parse_options(argc, argv, o)) return 2;
  segment::Catalog catalog;
  const std::vector<std::string> texts = workload_segments(100);
  auto batch = catalog.register_batch(texts);
  for (const auto& outcome : batch.outcomes) {
    if (!outcome.result.ok()) {
      std::fprintf(stderr, "segments: %s: %s\n", outcome.text.c_str(),
                   outcome.result.error().message.c_str());
      return 1;
    }
  }
  // Ordinals by kind; INCLUDE kinds only from i >= 10 (the engine mix's shape for most i).
  std::vector<std::vector<SegmentOrdinal>> by_kind(10);
  std::vector<SegmentOrdinal> all;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const SegmentOrdinal ordinal = catalog.find(cat({"s", std::to_string(i)}))->ordinal;
    all.push_back(ordinal);
    if (i >= 10) by_kind[i % 10].push_back(ordinal);
  }

  constexpr std::size_t kSeriesSizes[] = {0, 10, 500};
  std::printf("segments: thread CPU ns per call, median of %d runs (>= %d ms each), %d profiles, "
              "purchases of 0 / 10 / 500 timestamps\n",
              o.runs, o.min_ms, o.profiles);
  std::printf("%-40s %8s %8s %8s   %8s %8s %8s\n", "kind", "eval/0", "eval/10", "eval/500",
              "next/0", "next/10", "next/500");

  std::vector<std::vector<model::Profile>> profiles;
  for (std::size_t size : kSeriesSizes) {
    std::mt19937_64 rng(o.seed);
    std::vector<model::Profile> ps;
    for (int k = 0; k < o.profiles; ++k) ps.push_back(make_profile(rng, size, k));
    profiles.push_back(std::move(ps));
  }
  // Evaluation instants within a day of kNow, so that windows sit at varied offsets.
  std::vector<TimestampMs> nows;
  {
    std::mt19937_64 rng(o.seed + 1);
    for (int k = 0; k < o.profiles; ++k) nows.push_back(kNow + static_cast<TimestampMs>(rng() % kDay));
  }

  auto row = [&](const char* name, const std::vector<SegmentOrdinal>& ordinals) {
    double eval_ns[3], next_ns[3];
    for (std::size_t s = 0; s < 3; ++s) {
      std::vector<model::ProfileFieldSource> sources;
      for (const model::Profile& p : profiles[s]) sources.emplace_back(p);
      const std::size_t calls = ordinals.size() * sources.size();
      eval_ns[s] = median_ns(o, calls, [&] {
        std::int64_t hits = 0;
        for (std::size_t k = 0; k < sources.size(); ++k) {
          for (SegmentOrdinal ordinal : ordinals) hits += catalog.evaluate(ordinal, sources[k], nows[k]);
        }
        g_sink = g_sink + hits;
      });
      next_ns[s] = median_ns(o, calls, [&] {
        std::int64_t acc = 0;
        for (std::size_t k = 0; k < sources.size(); ++k) {
          for (SegmentOrdinal ordinal : ordinals) acc += catalog.next_change(ordinal, sources[k], nows[k]);
        }
        g_sink = g_sink + acc;
      });
    }
    std::printf("%-40s %8.1f %8.1f %8.1f   %8.1f %8.1f %8.1f\n", name, eval_ns[0], eval_ns[1],
                eval_ns[2], next_ns[0], next_ns[1], next_ns[2]);
  };
  for (const Kind& kind : kKinds) row(kind.name, by_kind[static_cast<std::size_t>(kind.residue)]);

  // The whole mix as the engine calls it: evaluate, then next_change when time-dependent.
  std::printf("\nmix: all 100 segments, evaluate + next_change when time-dependent, "
              "ns per segment (x47 ~ one engine event)\n");
  std::printf("%-40s %8s %8s %8s\n", "", "/0", "/10", "/500");
  double mix_ns[3];
  for (std::size_t s = 0; s < 3; ++s) {
    std::vector<model::ProfileFieldSource> sources;
    for (const model::Profile& p : profiles[s]) sources.emplace_back(p);
    mix_ns[s] = median_ns(o, all.size() * sources.size(), [&] {
      std::int64_t acc = 0;
      for (std::size_t k = 0; k < sources.size(); ++k) {
        for (SegmentOrdinal ordinal : all) {
          acc += catalog.evaluate(ordinal, sources[k], nows[k]);
          if (catalog.get(ordinal)->time_dependent) {
            acc += catalog.next_change(ordinal, sources[k], nows[k]);
          }
        }
      }
      g_sink = g_sink + acc;
    });
  }
  std::printf("%-40s %8.1f %8.1f %8.1f\n", "evaluate + next_change", mix_ns[0], mix_ns[1],
              mix_ns[2]);
  // The same through evaluate_with_next_change: one call per segment, and one call for all.
  double single_ns[3], batch_ns[3];
  std::vector<segment::SegmentAnswer> answers;
  for (std::size_t s = 0; s < 3; ++s) {
    std::vector<model::ProfileFieldSource> sources;
    for (const model::Profile& p : profiles[s]) sources.emplace_back(p);
    single_ns[s] = median_ns(o, all.size() * sources.size(), [&] {
      std::int64_t acc = 0;
      for (std::size_t k = 0; k < sources.size(); ++k) {
        for (SegmentOrdinal ordinal : all) {
          const segment::SegmentAnswer a = catalog.evaluate_with_next_change(ordinal, sources[k], nows[k]);
          acc += a.member + a.next_change;
        }
      }
      g_sink = g_sink + acc;
    });
    batch_ns[s] = median_ns(o, all.size() * sources.size(), [&] {
      std::int64_t acc = 0;
      for (std::size_t k = 0; k < sources.size(); ++k) {
        catalog.evaluate_with_next_change(all, sources[k], nows[k], answers);
        for (const segment::SegmentAnswer& a : answers) acc += a.member + a.next_change;
      }
      g_sink = g_sink + acc;
    });
  }
  std::printf("%-40s %8.1f %8.1f %8.1f\n", "evaluate_with_next_change, per segment", single_ns[0],
              single_ns[1], single_ns[2]);
  std::printf("%-40s %8.1f %8.1f %8.1f\n", "evaluate_with_next_change, all at once", batch_ns[0],
              batch_ns[1], batch_ns[2]);
  // Stretch: the same two forms over the lookup prototype above.
  for (std::size_t s = 0; s < 3; ++s) {
    std::vector<ScanFieldSource> sources;
    for (const model::Profile& p : profiles[s]) sources.emplace_back(p);
    single_ns[s] = median_ns(o, all.size() * sources.size(), [&] {
      std::int64_t acc = 0;
      for (std::size_t k = 0; k < sources.size(); ++k) {
        for (SegmentOrdinal ordinal : all) {
          const segment::SegmentAnswer a = catalog.evaluate_with_next_change(ordinal, sources[k], nows[k]);
          acc += a.member + a.next_change;
        }
      }
      g_sink = g_sink + acc;
    });
    batch_ns[s] = median_ns(o, all.size() * sources.size(), [&] {
      std::int64_t acc = 0;
      for (std::size_t k = 0; k < sources.size(); ++k) {
        catalog.evaluate_with_next_change(all, sources[k], nows[k], answers);
        for (const segment::SegmentAnswer& a : answers) acc += a.member + a.next_change;
      }
      g_sink = g_sink + acc;
    });
  }
  std::printf("%-40s %8.1f %8.1f %8.1f\n", "  with length-first scan lookup, per seg", single_ns[0],
              single_ns[1], single_ns[2]);
  std::printf("%-40s %8.1f %8.1f %8.1f\n", "  with length-first scan lookup, all", batch_ns[0],
              batch_ns[1], batch_ns[2]);
  return 0;
}

}  // namespace shoal::bench
