#include "segment/catalog.h"

#include <algorithm>
#include <functional>
#include <set>

#include "core/bitmap.h"
#include "core/hash.h"
#include "segment/filter.h"

namespace shoal::segment {
namespace {

Error invalid_at(int line, int column, std::string_view message) {
  return make_error(ErrorCode::kInvalidArgument, "line " + std::to_string(line) + ", col " +
                                                     std::to_string(column) + ": " +
                                                     std::string(message));
}

// Line and column just past the end of `text`.
std::pair<int, int> end_position(std::string_view text) {
  int line = 1, column = 1;
  for (char c : text) {
    if (c == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

std::vector<std::string> include_aliases(const Condition& condition) {
  std::vector<const Condition*> nodes;
  collect_includes(condition, nodes);
  std::vector<std::string> out;
  for (const Condition* n : nodes) out.push_back(n->alias);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// A parsed batch entry on its way in.
struct Candidate {
  std::size_t index = 0;
  Filter filter;
  std::vector<const Condition*> include_nodes;  // in order of appearance
  std::vector<std::string> includes;            // sorted, unique
  bool active = false;
};

}  // namespace

std::string segment_id(std::string_view alias, model::SegmentOrdinal ordinal) {
  return hex_id128("segment:" + std::string(alias) + ":" + std::to_string(ordinal.value));
}

BatchResult Catalog::register_batch(const std::vector<std::string>& texts) {
  BatchResult batch;
  batch.outcomes.resize(texts.size());
  std::vector<Candidate> candidates;
  std::unordered_map<std::string, std::size_t> batch_alias;  // alias -> candidate (first one)
  for (std::size_t i = 0; i < texts.size(); ++i) {
    RegisterOutcome& outcome = batch.outcomes[i];
    outcome.text = texts[i];
    auto parsed = parse_filter(texts[i]);
    if (!parsed.ok()) {
      outcome.result = parsed.take_error();
      continue;
    }
    if (parsed->alias.empty()) {
      auto [line, column] = end_position(texts[i]);
      outcome.result = invalid_at(line, column, "a segment needs ALIAS <slug> at the end");
      continue;
    }
    if (batch_alias.count(parsed->alias) != 0) {
      outcome.result = invalid_at(parsed->alias_line, parsed->alias_column,
                                  "alias '" + parsed->alias + "' appears twice in this batch");
      continue;
    }
    Candidate c;
    c.index = i;
    c.filter = std::move(parsed).value();
    collect_includes(*c.filter.condition, c.include_nodes);
    c.includes = include_aliases(*c.filter.condition);
    c.active = true;
    batch_alias[c.filter.alias] = candidates.size();
    candidates.push_back(std::move(c));
  }

  // The INCLUDE graph as it would be: registered segments overlaid with the active candidates.
  auto includes_of = [&](const std::string& alias) -> const std::vector<std::string>* {
    if (auto it = batch_alias.find(alias); it != batch_alias.end() && candidates[it->second].active) {
      return &candidates[it->second].includes;
    }
    if (const Segment* s = find(alias)) return &s->includes;
    return nullptr;
  };
  // Rejections only shrink the active set, so this settles.
  bool changed = true;
  while (changed) {
    changed = false;
    std::vector<std::pair<std::size_t, Error>> rejections;
    for (std::size_t ci = 0; ci < candidates.size(); ++ci) {
      Candidate& c = candidates[ci];
      if (!c.active) continue;
      std::optional<Error> error;
      for (const Condition* node : c.include_nodes) {
        auto in_batch = batch_alias.find(node->alias);
        if (in_batch != batch_alias.end() && !candidates[in_batch->second].active) {
          error = invalid_at(node->line, node->column,
                             "INCLUDE of segment '" + node->alias +
                                 "', which was rejected in this batch");
          break;
        }
        if (includes_of(node->alias) == nullptr) {
          error = invalid_at(node->line, node->column,
                             "INCLUDE of unknown segment '" + node->alias + "'");
          break;
        }
      }
      if (!error) {
        // Is c on a cycle? Search from each of its includes for its own alias.
        for (const Condition* node : c.include_nodes) {
          std::unordered_map<std::string, std::string> parent;
          std::vector<std::string> stack{node->alias};
          parent[node->alias] = c.filter.alias;
          bool found = node->alias == c.filter.alias;
          while (!stack.empty() && !found) {
            std::string at = stack.back();
            stack.pop_back();
            const auto* next = includes_of(at);
            if (next == nullptr) continue;
            for (const std::string& n : *next) {
              if (n == c.filter.alias) {
                parent["\x01"] = at;
                found = true;
                break;
              }
              if (parent.emplace(n, at).second) stack.push_back(n);
            }
          }
          if (!found) continue;
          std::vector<std::string> path{c.filter.alias};
          if (node->alias != c.filter.alias) {
            for (std::string at = parent["\x01"]; at != c.filter.alias; at = parent[at]) {
              path.push_back(at);
            }
          }
          std::string cycle = c.filter.alias;
          for (auto it = path.rbegin(); it != path.rend(); ++it) cycle += " -> " + *it;
          error = invalid_at(node->line, node->column,
                             "INCLUDE '" + node->alias + "' closes a cycle: " + cycle);
          break;
        }
      }
      if (error) rejections.emplace_back(ci, std::move(*error));
    }
    for (auto& [ci, error] : rejections) {
      candidates[ci].active = false;
      batch.outcomes[candidates[ci].index].result = std::move(error);
      changed = true;
    }
  }

  std::set<std::uint32_t> changed_ordinals;
  for (Candidate& c : candidates) {
    if (!c.active) continue;
    RegisterOutcome& outcome = batch.outcomes[c.index];
    std::uint32_t ordinal;
    if (auto it = by_alias_.find(c.filter.alias); it != by_alias_.end()) {
      ordinal = it->second;
      outcome.replaced = true;
    } else {
      ordinal = next_ordinal_++;
      by_alias_[c.filter.alias] = ordinal;
    }
    Segment& s = segments_[ordinal];
    s.ordinal = model::SegmentOrdinal{ordinal};
    s.alias = c.filter.alias;
    s.id = segment_id(s.alias, s.ordinal);
    s.label = std::make_shared<const SegmentLabel>(SegmentLabel{s.id, s.alias});
    s.text = texts[c.index];
    s.condition = c.filter.condition;
    s.includes = c.includes;
    outcome.result = s.ordinal;
    changed_ordinals.insert(ordinal);
  }
  if (changed_ordinals.empty()) return batch;
  rebuild();
  // Every segment that INCLUDEs a changed one changes too.
  bool grew = true;
  while (grew) {
    grew = false;
    for (const auto& [ordinal, s] : segments_) {
      if (changed_ordinals.count(ordinal) != 0) continue;
      for (const std::string& inc : s.includes) {
        auto it = by_alias_.find(inc);
        if (it != by_alias_.end() && changed_ordinals.count(it->second) != 0) {
          changed_ordinals.insert(ordinal);
          grew = true;
          break;
        }
      }
    }
  }
  for (std::uint32_t o : changed_ordinals) batch.changed.push_back(model::SegmentOrdinal{o});
  return batch;
}

Result<std::vector<model::SegmentOrdinal>> Catalog::remove(std::string_view alias) {
  auto it = by_alias_.find(std::string(alias));
  if (it == by_alias_.end()) {
    return make_error(ErrorCode::kNotFound, "no segment with alias '" + std::string(alias) + "'");
  }
  for (const auto& [ordinal, s] : segments_) {
    if (std::binary_search(s.includes.begin(), s.includes.end(), std::string(alias))) {
      return make_error(ErrorCode::kFailedPrecondition,
                        "segment '" + std::string(alias) + "' is included by '" + s.alias +
                            "'; change or remove '" + s.alias + "' first");
    }
  }
  const std::uint32_t ordinal = it->second;
  by_alias_.erase(it);
  segments_.erase(ordinal);
  rebuild();
  return std::vector<model::SegmentOrdinal>{model::SegmentOrdinal{ordinal}};
}

const Segment* Catalog::find(std::string_view alias) const {
  auto it = by_alias_.find(alias);
  return it == by_alias_.end() ? nullptr : get(model::SegmentOrdinal{it->second});
}

const Segment* Catalog::get(model::SegmentOrdinal ordinal) const {
  return ordinal.value < by_ordinal_.size() ? by_ordinal_[ordinal.value] : nullptr;
}

std::vector<model::SegmentOrdinal> Catalog::ordinals() const {
  std::vector<model::SegmentOrdinal> out;
  out.reserve(segments_.size());
  for (const auto& [ordinal, s] : segments_) out.push_back(s.ordinal);
  return out;
}

const std::vector<std::uint64_t>& Catalog::segment_bits_reading(std::string_view field) const {
  static const std::vector<std::uint64_t> kNone;
  auto it = bits_by_field_.find(field);
  return it == bits_by_field_.end() ? kNone : it->second;
}

bool Catalog::evaluate(model::SegmentOrdinal ordinal, const model::FieldSource& profile,
                       TimestampMs now) const {
  const Plan* p = plan(ordinal);
  if (p == nullptr) return false;
  const model::Value* slots[kMaxFieldSlots];
  FieldReader fields(profile, slots, reader_slots());
  return p->evaluate(fields, now);
}

TimestampMs Catalog::next_change(model::SegmentOrdinal ordinal, const model::FieldSource& profile,
                                 TimestampMs now) const {
  const Plan* p = plan(ordinal);
  if (p == nullptr || !p->time_dependent()) return model::kNoTime;
  const model::Value* slots[kMaxFieldSlots];
  FieldReader fields(profile, slots, reader_slots());
  return p->next_change(fields, now);
}

SegmentAnswer Catalog::evaluate_with_next_change(model::SegmentOrdinal ordinal,
                                                 const model::FieldSource& profile,
                                                 TimestampMs now) const {
  SegmentAnswer answer;
  answer_all(std::span<const model::SegmentOrdinal>(&ordinal, 1), profile, now, &answer);
  return answer;
}

void Catalog::evaluate_with_next_change(std::span<const model::SegmentOrdinal> ordinals,
                                        const model::FieldSource& profile, TimestampMs now,
                                        std::vector<SegmentAnswer>& out) const {
  out.resize(ordinals.size());
  answer_all(ordinals, profile, now, out.data());
}

void Catalog::answer_all(std::span<const model::SegmentOrdinal> ordinals,
                         const model::FieldSource& profile, TimestampMs now,
                         SegmentAnswer* out) const {
  const model::Value* slots[kMaxFieldSlots];
  FieldReader fields(profile, slots, reader_slots());
  // Scratch kept per thread, so answer_all stays const: an included segment is evaluated once
  // per profile however many segments of the batch include it, or are it.
  thread_local std::vector<PlanMemo> memo;
  thread_local std::uint64_t generation = 0;
  if (memo.size() < plans_.size()) memo.resize(plans_.size());
  fields.use_memo(memo.data(), static_cast<std::uint32_t>(plans_.size()), ++generation, now);
  for (std::size_t i = 0; i < ordinals.size(); ++i) {
    SegmentAnswer& answer = out[i];
    answer = SegmentAnswer{};
    const Plan* p = plan(ordinals[i]);
    if (p == nullptr) continue;
    if (p->answer_directly(fields, now, answer.member, answer.next_change)) continue;
    answer.member = p->evaluate(fields, now);
    if (p->time_dependent()) answer.next_change = p->next_change(fields, now, answer.member);
  }
}

Status Catalog::restore(model::SegmentOrdinal ordinal, std::string_view text) {
  SHOAL_ASSIGN_OR_RETURN(Filter filter, parse_filter(text));
  if (filter.alias.empty()) {
    return make_error(ErrorCode::kCorruption, "stored segment " +
                                                  std::to_string(ordinal.value) + " has no ALIAS");
  }
  if (segments_.count(ordinal.value) != 0 || by_alias_.count(filter.alias) != 0) {
    return make_error(ErrorCode::kCorruption,
                      "stored segment '" + filter.alias + "' (ordinal " +
                          std::to_string(ordinal.value) + ") is restored twice");
  }
  Segment& s = segments_[ordinal.value];
  s.ordinal = ordinal;
  s.alias = filter.alias;
  s.id = segment_id(s.alias, ordinal);
  s.label = std::make_shared<const SegmentLabel>(SegmentLabel{s.id, s.alias});
  s.text = std::string(text);
  s.includes = include_aliases(*filter.condition);
  s.condition = std::move(filter.condition);
  by_alias_[s.alias] = ordinal.value;
  next_ordinal_ = std::max(next_ordinal_, ordinal.value + 1);
  // find() must see restored segments before finish_restore() rebuilds everything.
  if (by_ordinal_.size() <= ordinal.value) by_ordinal_.resize(ordinal.value + 1, nullptr);
  by_ordinal_[ordinal.value] = &s;
  return ok_status();
}

Status Catalog::finish_restore() {
  // Every INCLUDE must resolve, and the graph must be acyclic (DFS with colours).
  std::unordered_map<std::string, int> colour;  // 0 new, 1 on stack, 2 done
  std::function<Status(const Segment&)> visit = [&](const Segment& s) -> Status {
    colour[s.alias] = 1;
    for (const std::string& inc : s.includes) {
      const Segment* target = find(inc);
      if (target == nullptr) {
        return make_error(ErrorCode::kCorruption,
                          "stored segment '" + s.alias + "' includes unknown segment '" + inc + "'");
      }
      int c = colour[inc];
      if (c == 1) {
        return make_error(ErrorCode::kCorruption,
                          "stored segments form an INCLUDE cycle through '" + inc + "'");
      }
      if (c == 0) SHOAL_RETURN_IF_ERROR(visit(*target));
    }
    colour[s.alias] = 2;
    return ok_status();
  };
  for (const auto& [ordinal, s] : segments_) {
    if (colour[s.alias] == 0) SHOAL_RETURN_IF_ERROR(visit(s));
  }
  rebuild();
  return ok_status();
}

void Catalog::rebuild() {
  // Transitive fields and time dependence, memoized per alias (the graph is acyclic).
  std::unordered_map<std::string, std::pair<std::set<std::string>, bool>> memo;
  std::function<const std::pair<std::set<std::string>, bool>&(const Segment&)> closure =
      [&](const Segment& s) -> const std::pair<std::set<std::string>, bool>& {
    if (auto it = memo.find(s.alias); it != memo.end()) return it->second;
    std::pair<std::set<std::string>, bool> result;
    std::vector<std::string> direct;
    collect_fields(*s.condition, direct);
    for (std::string& path : direct) {
      for (std::size_t dot = path.find('.'); dot != std::string::npos;
           dot = path.find('.', dot + 1)) {
        result.first.insert(path.substr(0, dot));
      }
      result.first.insert(std::move(path));
    }
    result.second = s.condition->time_dependent;
    for (const std::string& inc : s.includes) {
      if (const Segment* target = find(inc)) {
        const auto& sub = closure(*target);
        result.first.insert(sub.first.begin(), sub.first.end());
        result.second = result.second || sub.second;
      }
    }
    return memo.emplace(s.alias, std::move(result)).first->second;
  };
  bits_by_field_.clear();
  time_dependent_.clear();
  by_ordinal_.assign(next_ordinal_, nullptr);
  plans_.clear();
  plans_.resize(next_ordinal_);
  for (auto& [ordinal, s] : segments_) {
    const auto& c = closure(s);
    s.fields_read.assign(c.first.begin(), c.first.end());
    s.time_dependent = c.second;
    for (const std::string& f : s.fields_read) bitmap_set(bits_by_field_[f], s.ordinal.value);
    if (s.time_dependent) time_dependent_.push_back(s.ordinal);
    by_ordinal_[ordinal] = &s;
    plans_[ordinal] = std::make_unique<Plan>();
    plans_[ordinal]->set_memo_slot(static_cast<std::uint32_t>(ordinal));
  }
  // Every plan exists before any is compiled, so INCLUDE can point at plans in any order.
  field_slots_.clear();
  Plan::Linker linker;
  linker.include = [this](std::string_view alias) {
    const Segment* target = find(alias);
    if (target == nullptr) return Plan::Include{};
    return Plan::Include{plan(target->ordinal), target->time_dependent};
  };
  linker.field_slot = [this](std::string_view path) {
    auto it = field_slots_.find(path);
    if (it != field_slots_.end()) return it->second;
    const auto slot = static_cast<std::uint32_t>(field_slots_.size());
    field_slots_.emplace(std::string(path), slot);
    return slot;
  };
  for (const auto& [ordinal, s] : segments_) plans_[ordinal]->compile(s.condition, linker);
}

}  // namespace shoal::segment
