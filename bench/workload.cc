#include "bench/workload.h"

#include <initializer_list>
#include <string_view>

namespace shoal::bench {
namespace {

std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) out += p;
  return out;
}

}  // namespace

const char* const kWorkloadMapping =
    "SELECT user_id, email(email) AS email, plan, country, toint(age) AS age KIND int, "
    "_ts AS last_seen KIND date, _ts AS first_seen KIND date MERGEOP oldest, "
    "append(_ts) AS purchases IF event == \"purchase\", count(*) AS visits, "
    "sum(amount) AS revenue, set(event) AS events_seen "
    "FROM events INTO user BY user_id OR email";

// Rationale for cat(): GCC 12 warns falsely (-Wrestrict) on `"literal" + std::string`.
std::vector<std::string> workload_segments(std::size_t n) {
  static const char* kPlans[] = {"free", "basic", "pro", "team"};
  auto num = [](std::size_t v) { return std::to_string(v); };
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) {
    std::string body;
    switch (i % 10) {
      case 0: body = cat({"plan == \"", kPlans[i % 4], "\""}); break;
      case 1:
        body = cat({"AND(age >= ", num(18 + i % 30), ", country IN (\"US\", \"DE\", \"FR\"))"});
        break;
      case 2: body = cat({"visits >= ", num(2 + i % 20)}); break;
      case 3: body = cat({"last_seen > \"now-", num(1 + i % 14), "d\""}); break;
      case 4:
        body = cat({"countsince(purchases, \"now-", num(1 + i % 30), "d\") >= ", num(1 + i % 4)});
        break;
      case 5: body = cat({"first_seen <= \"now-", num(1 + i % 20), "d\""}); break;
      case 6: body = cat({"AND(revenue > ", num(50 + i), ", EXISTS email)"}); break;
      case 7: body = "events_seen INTERSECTS (\"purchase\", \"signup\")"; break;
      case 8:
        body = i >= 10 ? cat({"AND(INCLUDE s", num(i - 5), ", INCLUDE s", num(i - 6), ")"})
                       : "domain(email) == \"example.com\"";
        break;
      default:
        body = i >= 10 ? cat({"OR(INCLUDE s", num(i - 6), ", plan == \"pro\")"})
                       : "NOT country == \"US\"";
        break;
    }
    out.push_back(cat({"FILTER ", body, " ALIAS s", num(i)}));
  }
  return out;
}

}  // namespace shoal::bench
