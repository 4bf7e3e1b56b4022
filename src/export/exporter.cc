#include "export/exporter.h"

#include <algorithm>
#include <future>
#include <unordered_map>

#include "core/hash.h"
#include "export/message.h"
#include "storage/codec.h"

namespace shoal::exports {
namespace {

constexpr std::string_view kSequenceMeta = "export_sequence";

bool contains(const std::vector<model::SegmentOrdinal>& segments, model::SegmentOrdinal s) {
  return std::find(segments.begin(), segments.end(), s) != segments.end();
}

std::string encode_sequence(std::uint64_t next) {
  std::string out;
  storage::append_u64_be(out, next);
  return out;
}

bool is_wanted(const Subscription& s, engine::TriggerEvent event) {
  return event == engine::TriggerEvent::kEnter ? s.send_enter : s.send_exit;
}

}  // namespace

Exporter::Exporter(storage::Store& store, const Clock& clock, SinkFactory sinks,
                   ExporterOptions options)
    : store_(store), clock_(clock), sinks_(std::move(sinks)), options_(std::move(options)) {}

Exporter::~Exporter() { stop(); }

Status Exporter::load() {
  SHOAL_ASSIGN_OR_RETURN(auto sequence, store_.get(storage::meta_key(kSequenceMeta)));
  if (sequence && sequence->size() == 8) next_sequence_ = storage::read_u64_be(*sequence);
  std::string prefix(1, static_cast<char>(storage::RecordType::kSubscription));
  std::vector<std::pair<std::string, std::string>> records;
  SHOAL_RETURN_IF_ERROR(store_.scan(prefix, [&](std::string_view key, std::string_view value) {
    records.emplace_back(std::string(key), std::string(value));
    return true;
  }));
  std::lock_guard lock(mutex_);
  for (const auto& [key, value] : records) {
    if (key.find('/') != std::string::npos) continue;  // a subscription's backfill records
    auto subscription = subscription_from_json(value);
    if (!subscription.ok()) return subscription.take_error().with_context(key.substr(1));
    auto entry = std::make_unique<Entry>();
    entry->subscription = std::move(subscription).value();
    std::string id = entry->subscription.id;
    entries_[id] = std::move(entry);
  }
  // Keys sort after their subscription's own record: "U<id>/backfill", "U<id>/live/<profile>".
  for (const auto& [key, value] : records) {
    std::size_t slash = key.find('/');
    if (slash == std::string::npos) continue;
    auto it = entries_.find(std::string_view(key).substr(1, slash - 1));
    if (it == entries_.end()) continue;  // left by a removal that crashed half-way
    Entry& entry = *it->second;
    if (key == backfill_key(entry.subscription.id)) {
      entry.backfill = backfill_from_json(value);
    } else if (auto profile = backfill_live_profile(key)) {
      entry.live_during_backfill.insert(profile->value);
    }
  }
  return ok_status();
}

std::unique_ptr<Deliverer> Exporter::make_deliverer(const Subscription& subscription) {
  auto sink = sinks_(subscription);
  if (!sink.ok()) {
    // No sink (bad credentials configuration): the deliverer is created paused-free with a sink
    // that fails every call, so the error shows on the subscription and messages wait.
    struct FailingSink final : Sink {
      explicit FailingSink(Error e) : error(std::move(e)) {}
      Status prepare(TimestampMs) override { return error; }
      bool admit(std::string_view, std::size_t, TimestampMs) override { return true; }
      Result<std::vector<EntryOutcome>> send(std::span<const OutgoingEntry>) override {
        return error;
      }
      std::size_t max_batch_records() const override { return 500; }
      void cancel() override {}
      Error error;
    };
    return std::make_unique<Deliverer>(store_, clock_, subscription,
                                       std::make_unique<FailingSink>(sink.take_error()),
                                       options_.hooks);
  }
  return std::make_unique<Deliverer>(store_, clock_, subscription, std::move(sink).value(),
                                     options_.hooks);
}

engine::CommitObserver Exporter::commit_observer() {
  return [this](const engine::Engine& engine, const std::vector<engine::Trigger>& triggers,
                storage::Batch& batch) { return observe(engine, triggers, batch); };
}

Status Exporter::observe(const engine::Engine& engine,
                         const std::vector<engine::Trigger>& triggers, storage::Batch& batch) {
  std::lock_guard lock(mutex_);
  bool wrote = false;
  std::vector<std::size_t> mine;
  std::string message, value;
  for (auto& [id, entry] : entries_) {
    const Subscription& sub = entry->subscription;
    mine.clear();
    for (std::size_t i = 0; i < triggers.size(); ++i) {
      if (contains(sub.segments, triggers[i].segment)) mine.push_back(i);
    }
    if (mine.empty()) continue;
    // One message per profile change: consecutive triggers of one profile at one instant.
    struct Group {
      std::size_t begin, end;  // into `mine`
      std::string partition_key;
      std::string message;
    };
    std::vector<Group> groups;
    for (std::size_t k = 0; k < mine.size(); ++k) {
      const engine::Trigger& t = triggers[mine[k]];
      if (!groups.empty()) {
        const engine::Trigger& prev = triggers[mine[groups.back().end - 1]];
        if (prev.profile == t.profile && prev.ts == t.ts) {
          groups.back().end = k + 1;
          continue;
        }
      }
      groups.push_back(Group{k, k + 1, {}, {}});
    }
    // Per profile, walk its groups from the latest back, undoing each group's changes, so
    // every message lists the memberships the profile had at that group's instant.
    std::unordered_map<std::uint64_t, std::vector<std::size_t>> by_profile;
    for (std::size_t g = 0; g < groups.size(); ++g) {
      by_profile[triggers[mine[groups[g].begin]].profile.value].push_back(g);
    }
    for (auto& [profile_id, group_indices] : by_profile) {
      const model::Profile* profile = engine.cached_profile(model::ProfileId{profile_id});
      std::vector<model::OrdinalTime> members;  // of the subscription's segments
      if (profile) {
        for (const model::OrdinalTime& m : profile->memberships) {
          if (contains(sub.segments, m.segment)) members.push_back(m);
        }
      }
      for (auto g = group_indices.rbegin(); g != group_indices.rend(); ++g) {
        Group& group = groups[*g];
        const engine::Trigger& first = triggers[mine[group.begin]];
        MessageInput in;
        in.subscription_id = sub.id;
        in.ts = first.ts;
        in.profile = profile;
        in.identities = &first.identities();
        in.fields = &sub.fields;
        std::vector<model::SegmentOrdinal> changed;
        for (std::size_t k = group.begin; k < group.end; ++k) {
          const engine::Trigger& t = triggers[mine[k]];
          changed.push_back(t.segment);
          if (!is_wanted(sub, t.event)) continue;
          if (in.id.empty()) in.id = t.id();
          in.events.push_back(SegmentEvent{t.segment, t.event, t.entered_ms, t.ts});
        }
        if (!in.events.empty()) {
          for (model::SegmentOrdinal s : sub.segments) {
            if (contains(changed, s)) continue;
            for (const model::OrdinalTime& m : members) {
              if (m.segment == s) {
                in.events.push_back(
                    SegmentEvent{s, engine::TriggerEvent::kEnter, m.at, 0});
              }
            }
          }
          group.message.clear();
          build_message_json(in, engine.catalog(), group.message);
          group.partition_key =
              partition_key_for(sub.identifier_field, profile, first.profile, &first.identities());
        }
        for (std::size_t k = group.begin; k < group.end; ++k) {
          const engine::Trigger& t = triggers[mine[k]];
          auto it = std::find_if(members.begin(), members.end(),
                                 [&](const model::OrdinalTime& m) { return m.segment == t.segment; });
          if (t.event == engine::TriggerEvent::kEnter) {
            if (it != members.end()) members.erase(it);
          } else if (it == members.end()) {
            members.push_back(model::OrdinalTime{t.segment, t.entered_ms});
          }
        }
      }
      // Stored with the commit, so a restart mid-backfill still skips the profile.
      if (entry->backfill.active && entry->live_during_backfill.insert(profile_id).second) {
        batch.put(backfill_live_key(sub.id, model::ProfileId{profile_id}), {});
      }
    }
    for (const Group& group : groups) {
      if (group.message.empty()) continue;
      value.clear();
      encode_outbox_entry(group.partition_key, group.message, value);
      batch.put(outbox_key(sub.id, next_sequence_++), value);
      wrote = true;
    }
  }
  if (wrote) batch.put(storage::meta_key(kSequenceMeta), encode_sequence(next_sequence_));
  return ok_status();
}

engine::Partition::TriggerSink Exporter::trigger_sink() {
  return [this](const std::vector<engine::Trigger>& triggers) {
    {
      std::lock_guard lock(mutex_);
      for (auto& [id, entry] : entries_) {
        if (entry->deliverer) entry->deliverer->notify();
      }
    }
    if (triggers.empty()) return;
    std::uint64_t last = triggers.back().sequence;
    std::uint64_t seen = acknowledged_.load();
    while (last > seen && !acknowledged_.compare_exchange_weak(seen, last)) {
    }
    engine::Partition* partition = partition_.load();
    if (!partition || ack_queued_.exchange(true)) return;
    Status queued = partition->submit(
        [this](engine::Engine& engine) {
          ack_queued_.store(false);
          (void)engine.acknowledge_through(acknowledged_.load());
        },
        [](const Status&) {});
    if (!queued.ok()) ack_queued_.store(false);
  };
}

void Exporter::start(engine::Partition& partition) {
  partition_.store(&partition);
  {
    std::lock_guard lock(mutex_);
    if (started_) return;
    started_ = true;
    for (auto& [id, entry] : entries_) {
      entry->deliverer = make_deliverer(entry->subscription);
      entry->deliverer->start();
    }
  }
  {
    std::lock_guard lock(backfill_mutex_);
    stopping_ = false;
  }
  backfill_thread_ = std::thread([this] { backfill_loop(); });
}

void Exporter::stop() {
  {
    std::lock_guard lock(backfill_mutex_);
    stopping_ = true;
  }
  backfill_wake_.notify_all();
  if (backfill_thread_.joinable()) backfill_thread_.join();
  std::vector<std::unique_ptr<Deliverer>> deliverers;
  {
    std::lock_guard lock(mutex_);
    started_ = false;
    for (auto& [id, entry] : entries_) {
      if (entry->deliverer) deliverers.push_back(std::move(entry->deliverer));
    }
  }
  for (auto& d : deliverers) d->stop();
  partition_.store(nullptr);
}

Status Exporter::run_on_engine(std::function<Status(engine::Engine&)> work) {
  engine::Partition* partition = partition_.load();
  if (!partition) return make_error(ErrorCode::kUnavailable, "the exporter is not running");
  auto result = std::make_shared<Status>();
  auto done = std::make_shared<std::promise<Status>>();
  std::future<Status> future = done->get_future();
  Status queued = partition->submit(
      [result, work = std::move(work)](engine::Engine& engine) { *result = work(engine); },
      [result, done](const Status& committed) {
        done->set_value(committed.ok() ? *result : committed);
      });
  if (!queued.ok()) return queued;
  return future.get();
}

Result<Subscription> Exporter::create(engine::Engine& engine, Subscription s) {
  s.segments.clear();
  for (const std::string& name : s.segment_ids) {
    const segment::Segment* found = engine.catalog().find(name);
    if (!found) {
      for (model::SegmentOrdinal o : engine.catalog().ordinals()) {
        const segment::Segment* seg = engine.catalog().get(o);
        if (seg && seg->id == name) found = seg;
      }
    }
    if (!found) {
      return make_error(ErrorCode::kInvalidArgument,
                        "segment_ids: no segment has id or slug \"" + name + "\"");
    }
    if (!contains(s.segments, found->ordinal)) s.segments.push_back(found->ordinal);
  }
  std::lock_guard lock(mutex_);
  if (s.id.empty()) {
    if (!s.job_id.empty()) {
      s.id = hex_id128("subscription-job:" + s.job_id);
    } else {
      s.id = hex_id128("subscription:" + s.name + ":" + std::to_string(clock_.now_ms()) + ":" +
                       std::to_string(next_sequence_) + ":" +
                       std::to_string(entries_.size()));
    }
  }
  if (entries_.count(s.id)) {
    return make_error(ErrorCode::kAlreadyExists, "subscription " + s.id + " exists");
  }
  s.created_ms = clock_.now_ms();
  auto entry = std::make_unique<Entry>();
  entry->subscription = s;
  engine.stage_put(subscription_key(s.id), subscription_to_json(s));
  if (s.with_backfill) {
    entry->backfill.active = true;
    for (model::SegmentOrdinal o : s.segments) entry->backfill.total += engine.segment_size(o);
    engine.stage_put(backfill_key(s.id), backfill_to_json(entry->backfill));
  }
  if (started_) {
    entry->deliverer = make_deliverer(s);
    entry->deliverer->start();
  }
  entries_[s.id] = std::move(entry);
  backfill_wake_.notify_all();
  return s;
}

Result<Subscription> Exporter::create_and_wait(Subscription subscription) {
  auto created = std::make_shared<std::optional<Subscription>>();
  Status status = run_on_engine([this, created, subscription](engine::Engine& engine) -> Status {
    auto result = create(engine, subscription);
    if (!result.ok()) return result.take_error();
    *created = std::move(result).value();
    return ok_status();
  });
  if (!status.ok()) return status.take_error();
  return **created;
}

Status Exporter::remove(std::string_view id_view) {
  std::string id(id_view);
  auto removed = std::make_shared<std::unique_ptr<Entry>>();
  SHOAL_RETURN_IF_ERROR(run_on_engine([this, id, removed](engine::Engine& engine) -> Status {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end()) {
      return make_error(ErrorCode::kNotFound, "no subscription has id \"" + id + "\"");
    }
    *removed = std::move(it->second);
    entries_.erase(it);
    engine.stage_erase(subscription_key(id));
    engine.stage_erase(backfill_key(id));
    return ok_status();
  }));
  if (*removed && (*removed)->deliverer) (*removed)->deliverer->stop();
  // Nothing writes these keys any more: erase the outbox (one range delete in its own family),
  // the dead letters and the backfill's live set.
  storage::Batch batch;
  std::string outbox_end = outbox_prefix(id);
  ++outbox_end.back();  // the id is hex: its last character is below 0xff
  batch.erase_range(outbox_prefix(id), outbox_end);
  for (const std::string& prefix : {dead_letter_prefix(id), backfill_live_prefix(id)}) {
    SHOAL_RETURN_IF_ERROR(store_.scan(prefix, [&](std::string_view key, std::string_view) {
      batch.erase(key);
      return true;
    }));
  }
  return store_.write(batch);
}

Status Exporter::set_paused(std::string_view id, bool paused) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    return make_error(ErrorCode::kNotFound, "no subscription has id \"" + std::string(id) + "\"");
  }
  Entry& entry = *it->second;
  if (entry.subscription.paused != paused) {
    entry.subscription.paused = paused;
    storage::Batch batch;
    batch.put(subscription_key(entry.subscription.id), subscription_to_json(entry.subscription));
    SHOAL_RETURN_IF_ERROR(store_.write(batch));
  }
  if (entry.deliverer) entry.deliverer->set_paused(paused);
  backfill_wake_.notify_all();
  return ok_status();
}

SubscriptionStatus Exporter::status_of(const Entry& entry) const {
  SubscriptionStatus s;
  s.subscription = entry.subscription;
  s.backfill = entry.backfill;
  if (entry.deliverer) s.delivery = entry.deliverer->stats();
  if (entry.subscription.paused) {
    s.state = "paused";
  } else if (!s.delivery.last_error.empty()) {
    s.state = "error";
    s.error = s.delivery.last_error;
  } else if (entry.backfill.active) {
    s.state = "backfilling";
  } else {
    s.state = "running";
  }
  return s;
}

std::vector<SubscriptionStatus> Exporter::list() const {
  std::lock_guard lock(mutex_);
  std::vector<SubscriptionStatus> out;
  for (const auto& [id, entry] : entries_) out.push_back(status_of(*entry));
  return out;
}

std::optional<SubscriptionStatus> Exporter::get(std::string_view id) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  return status_of(*it->second);
}

std::optional<SubscriptionStatus> Exporter::find_by_job(std::string_view job_id) const {
  std::lock_guard lock(mutex_);
  for (const auto& [id, entry] : entries_) {
    if (entry->subscription.job_id == job_id) return status_of(*entry);
  }
  return std::nullopt;
}

Result<std::vector<DeadLetterEntry>> Exporter::dead_letters(std::string_view id,
                                                            std::size_t limit) const {
  if (!get(id)) {
    return make_error(ErrorCode::kNotFound, "no subscription has id \"" + std::string(id) + "\"");
  }
  std::vector<DeadLetterEntry> out;
  Status corrupt = ok_status();
  SHOAL_RETURN_IF_ERROR(
      store_.scan(dead_letter_prefix(id), [&](std::string_view key, std::string_view value) {
        DeadLetterEntry e;
        e.sequence = sequence_of_key(key);
        if (!decode_dead_letter(value, e.letter)) {
          corrupt = make_error(ErrorCode::kCorruption, "a dead letter is corrupt");
          return false;
        }
        out.push_back(std::move(e));
        return out.size() < limit;
      }));
  SHOAL_RETURN_IF_ERROR(corrupt);
  return out;
}

Result<std::size_t> Exporter::replay_dead_letters(std::string_view id_view) {
  std::string id(id_view);
  if (!get(id)) return make_error(ErrorCode::kNotFound, "no subscription has id \"" + id + "\"");
  auto count = std::make_shared<std::size_t>(0);
  auto requeue = [this, id, count](engine::Engine& engine) -> Status {
    Status corrupt = ok_status();
    std::string value;
    SHOAL_RETURN_IF_ERROR(
        store_.scan(dead_letter_prefix(id), [&](std::string_view key, std::string_view bytes) {
          DeadLetter letter;
          if (!decode_dead_letter(bytes, letter)) {
            corrupt = make_error(ErrorCode::kCorruption, "a dead letter is corrupt");
            return false;
          }
          value.clear();
          encode_outbox_entry(letter.partition_key, letter.message, value);
          engine.stage_put(outbox_key(id, next_sequence_++), value);
          engine.stage_erase(std::string(key));
          ++*count;
          return true;
        }));
    SHOAL_RETURN_IF_ERROR(corrupt);
    engine.stage_put(storage::meta_key(kSequenceMeta), encode_sequence(next_sequence_));
    return ok_status();
  };
  SHOAL_RETURN_IF_ERROR(run_on_engine(std::move(requeue)));
  std::lock_guard lock(mutex_);
  auto it = entries_.find(id);
  if (it != entries_.end() && it->second->deliverer) it->second->deliverer->notify();
  return *count;
}

Result<std::uint64_t> Exporter::outbox_size(std::string_view id) const {
  std::uint64_t n = 0;
  SHOAL_RETURN_IF_ERROR(store_.scan(outbox_prefix(id), [&](std::string_view, std::string_view) {
    ++n;
    return true;
  }));
  return n;
}

void Exporter::backfill_loop() {
  while (true) {
    std::vector<std::string> due;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [id, entry] : entries_) {
        if (!entry->backfill.active || entry->subscription.paused) continue;
        // Back-pressure: no more backfill while the deliverer holds a full window.
        if (entry->deliverer &&
            entry->deliverer->stats().pending >= entry->subscription.delivery.window) {
          continue;
        }
        due.push_back(id);
      }
    }
    auto budget = static_cast<std::size_t>(std::max(
        1.0, options_.backfill_profiles_per_second *
                 static_cast<double>(options_.backfill_interval_ms) / 1000.0));
    for (const std::string& id : due) {
      (void)run_on_engine([this, id, budget](engine::Engine& engine) -> Status {
        backfill_step(engine, id, budget);
        return ok_status();
      });
      std::lock_guard lock(mutex_);
      auto it = entries_.find(id);
      if (it != entries_.end() && it->second->deliverer) it->second->deliverer->notify();
    }
    std::unique_lock lock(backfill_mutex_);
    if (stopping_) return;
    backfill_wake_.wait_for(lock, std::chrono::milliseconds(options_.backfill_interval_ms),
                            [&] { return stopping_; });
    if (stopping_) return;
  }
}

bool Exporter::backfill_step(engine::Engine& engine, const std::string& id, std::size_t budget) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end() || !it->second->backfill.active) return false;
  Entry& entry = *it->second;
  const Subscription& sub = entry.subscription;
  BackfillState& b = entry.backfill;
  std::string message, value;
  std::size_t written = 0;
  // Pages examine a bounded number of profiles, so a step is bounded even over non-members.
  for (int pages = 0; pages < 16 && written < budget && b.segment_index < sub.segments.size();
       ++pages) {
    model::SegmentOrdinal ordinal = sub.segments[b.segment_index];
    auto page = engine.segment_members(ordinal, model::ProfileId{b.cursor}, budget - written,
                                       (budget - written) * 8 + 64);
    if (!page.ok()) break;
    for (const model::Profile& profile : page->profiles) {
      b.cursor = profile.id.value;
      if (entry.live_during_backfill.count(profile.id.value)) continue;
      bool sent_before = false;  // a member of an audience walked earlier got its message then
      for (std::size_t k = 0; k < b.segment_index; ++k) {
        if (profile.membership(sub.segments[k])) sent_before = true;
      }
      if (sent_before) continue;
      MessageInput in;
      in.subscription_id = sub.id;
      in.ts = engine.now();
      in.profile = &profile;
      in.fields = &sub.fields;
      in.id = hex_id128("backfill:" + sub.id + ":" + profile.id.to_string());
      for (model::SegmentOrdinal s : sub.segments) {
        if (auto entered = profile.membership(s)) {
          in.events.push_back(SegmentEvent{s, engine::TriggerEvent::kEnter, *entered, 0});
        }
      }
      message.clear();
      build_message_json(in, engine.catalog(), message);
      value.clear();
      encode_outbox_entry(partition_key_for(sub.identifier_field, &profile, profile.id, nullptr),
                          message, value);
      engine.stage_put(outbox_key(sub.id, next_sequence_++), value);
      ++b.done;
      ++written;
    }
    if (page->next) {
      b.cursor = page->next->value;
    } else {
      ++b.segment_index;
      b.cursor = 0;
    }
  }
  if (b.segment_index >= sub.segments.size()) {
    b.active = false;
    b.complete = true;
    for (std::uint64_t profile : entry.live_during_backfill) {
      engine.stage_erase(backfill_live_key(sub.id, model::ProfileId{profile}));
    }
    entry.live_during_backfill.clear();
  }
  engine.stage_put(storage::meta_key(kSequenceMeta), encode_sequence(next_sequence_));
  engine.stage_put(backfill_key(sub.id), backfill_to_json(b));
  if (entry.deliverer) entry.deliverer->notify();
  return b.active;
}

}  // namespace shoal::exports
