// SPDX-License-Identifier: GPL-2.0-or-later
// DnsblScore: the sum of the SpamAssassin-style scores of the blacklists
// that list the client address and the domains of the request (sender and
// recipient domains, client and HELO names). Every lookup goes out in one
// batch, so twenty lists cost one round trip; a list that does not answer
// before the deadline simply adds nothing (the info says how many did not
// answer), and only when no list answered at all is the result 0.
#include <cmath>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "dns/dnsbl_data.hpp"
#include "dns/dnsbl_lookup.hpp"
#include "modules/module.hpp"
#include "modules/prefetch.hpp"
#include "proto/request.hpp"

namespace ppolicy {
namespace {

using namespace dns;

struct DnsblScoreParams {
  std::optional<std::string> data_file;
  std::optional<std::vector<std::string>> dnsbl;
  std::optional<double> treshold;
  std::vector<std::string> params;
};

const Option k_params[] = {
    bound_row<&DnsblScoreParams::dnsbl>(
        {"dnsbl", OptType::list, nullptr,
         "blacklists to use (NAMEs of the data file); unset: every list with a non-zero score"}),
    bound_row<&DnsblScoreParams::treshold>({"treshold", OptType::number, nullptr,
                                            "unset: return the score itself (rounded away from "
                                            "zero); set: 1 when the score exceeds it, "
                                            "else -1"}),
    bound_row<&DnsblScoreParams::params>({"params", OptType::list, "client_address,sender",
                                          "what to look up: client_address (IP lists); sender, "
                                          "recipient (their domains), client_name, "
                                          "reverse_client_name, helo_name (domain lists)"}),
    data_file_row<&DnsblScoreParams::data_file>(),
};

const FieldSpec k_fields[] = {
    {"score", Type::number, "the exact score (sum of the scores of the listing lists)"},
    {"hits", Type::number, "number of listings that added to the score"},
    {"lists", Type::string, "names of the listing lists, comma-separated"},
    {"errors", Type::number, "lookups that failed (timeout, SERVFAIL, circuit breaker open)"},
};

const char* const k_allowed[] = {"client_address", "client_name", "reverse_client_name",
                                 "helo_name",      "sender",      "recipient"};

class DnsblScore final : public Module, public DnsPrefetch {
 public:
  DnsblScore(std::shared_ptr<const BlacklistData> data, std::vector<const Blacklist*> lists,
             std::vector<std::string> params, bool has_threshold, double threshold)
      : d_data(std::move(data)),
        d_lists(std::move(lists)),
        d_params(std::move(params)),
        d_has_threshold(has_threshold),
        d_threshold(threshold) {}

  bool cache_key(const Request& r, const CallArgs&, std::string& key) const override {
    for (const auto& p : d_params) {
      key += subject(r, p);
      key += '\0';
    }
    return true;
  }

  void first_questions(const Request& request, const CallArgs&, Services& services,
                       std::vector<Query>& out) const override {
    DnsblLookup lookup(*d_data);
    add_subjects(request, lookup);
    lookup.questions(&services, out);
  }

  Result check(Request& request, const CallArgs&, CheckContext& ctx) override {
    DnsblLookup lookup(*d_data);
    add_subjects(request, lookup);
    size_t asked = 0;
    for (const auto& r : lookup.results)
      asked += r.applicable;
    if (asked == 0)
      return Result(0, "nothing to look up").set("score", 0.0).set("hits", 0.0).set("errors", 0.0);
    lookup.run(ctx.services().resource<Resolver>(), &ctx.services(), ctx.deadline());

    double score = 0;
    int hits = 0, errors = 0, answered = 0;
    std::vector<std::string> names;
    for (const auto& r : lookup.results) {
      if (!r.applicable) continue;
      if (failed(r.status)) {
        ++errors;
        continue;
      }
      ++answered;
      if (!r.listed) continue;
      score += r.list->score;
      ++hits;
      names.push_back(r.list->name);
    }
    Result res;
    res.transient = errors > 0;  // incomplete: never shared through the cache
    res.set("score", score).set("hits", hits).set("lists", join(names, ",")).set("errors", errors);
    std::string detail = names.empty() ? "not listed" : join(names, ", ");
    if (errors) detail += format("; %d of %zu lookups failed", errors, asked);
    if (answered == 0) {
      res.info = format("no blacklist answered (%d lookups failed)", errors);
      return res;
    }
    if (d_has_threshold) {
      res.code = score > d_threshold ? 1 : -1;
      res.info = format("blacklist score %s %s treshold %s (%s)", number_text(score).c_str(),
                        res.code > 0 ? "exceeds" : "does not exceed",
                        number_text(d_threshold).c_str(), detail.c_str());
    } else {
      // The code is an integer: round away from zero so its sign (and the
      // cache lifetime it selects) is the score's; the exact score is a field.
      double c = score > 0 ? std::ceil(score) : std::floor(score);
      res.code = static_cast<int>(std::clamp(c, -1e6, 1e6));
      res.info = format("blacklist score %s (%s)", number_text(score).c_str(), detail.c_str());
    }
    return res;
  }

 private:
  // Every (list, subject) pair of the request.
  void add_subjects(const Request& request, DnsblLookup& lookup) const {
    for (const auto& p : d_params) {
      std::string s = subject(request, p);
      if (s.empty()) continue;
      if (p == "client_address") {
        auto ip = IpAddress::parse(s);
        if (!ip) continue;
        for (const auto* l : d_lists)
          lookup.add_ip(*l, *ip);
      } else {
        for (const auto* l : d_lists)
          lookup.add_domain(*l, s);
      }
    }
  }

  // What one param contributes: an address, or a domain / host name.
  static std::string subject(const Request& r, const std::string& param) {
    std::string_view v = r.get(param);
    if (param == "sender" || param == "recipient") return lower(address_domain(v));
    if (param == "client_address") return std::string(v);
    if (v == "unknown" || (!v.empty() && v.front() == '['))
      return "";  // no name, or an address literal
    return lower(v);
  }

  std::shared_ptr<const BlacklistData> d_data;
  std::vector<const Blacklist*> d_lists;
  std::vector<std::string> d_params;
  bool d_has_threshold;
  double d_threshold;
};

std::unique_ptr<Module> create(const ModuleSetup& s) {
  auto bp = s.bound<DnsblScoreParams>();
  auto data = load_module_data(bp.data_file);
  std::vector<const Blacklist*> lists;
  if (bp.dnsbl) {
    for (const auto& name : *bp.dnsbl) {
      const Blacklist& b = module_list(*data, name, "dnsbl");
      if (b.score == 0 && !b.defunct)
        log_warn("[module %s]: blacklist %s has score 0 and never changes the score",
                 s.name.c_str(), b.name.c_str());
      if (!b.defunct && b.score != 0) lists.push_back(&b);
    }
  } else {
    for (const auto& b : data->lists())
      if (!b.defunct && b.score != 0) lists.push_back(&b);
  }
  std::vector<std::string> params;
  for (const auto& p : bp.params) {
    bool ok = false;
    for (const char* a : k_allowed)
      ok = ok || p == a;
    // ppolicy 2.x warned and went on: a configuration of it still loads.
    if (!ok) {
      log_warn(
          "[module %s]: params: \"%s\" cannot be looked up and is ignored (client_address, "
          "client_name, reverse_client_name, helo_name, sender, recipient)",
          s.name.c_str(), p.c_str());
      continue;
    }
    params.push_back(p);
  }
  return std::make_unique<DnsblScore>(std::move(data), std::move(lists), std::move(params),
                                      bp.treshold.has_value(), bp.treshold.value_or(0.0));
}

}  // namespace

extern const ModuleType k_dnsbl_score_type = {
    "DnsblScore",
    "Check if the client address and the sender domain are in various DNS blacklists and\n"
    "sum the scores of the lists that list them (SpamAssassin scores, from the blacklist\n"
    "data file; `ppolicyd -M Dnsbl` lists them). The result depends on the parameter\n"
    "treshold: without it the module returns the score itself (rounded away from zero;\n"
    "the exact score is the field score), with it 1 or -1. All lookups are sent at once:\n"
    "a list that does not answer in time adds nothing.",
    k_params,
    {21600, 1800, 43200},
    k_fields,
    {},
    "    treshold unset: the score, rounded away from zero (positive: listed; 0: not listed\n"
    "           or nothing answered; negative: allow lists)\n"
    "    treshold set:\n"
    "    1 .... score > treshold\n"
    "    0 .... unknown error (no blacklist answered, nothing to look up)\n"
    "   -1 .... score <= treshold\n",
    "[module dnsblscore]\ntype = DnsblScore\n\n[module dnsblscore5]\ntype = DnsblScore\ntreshold = "
    "5\n\n"
    "[policy main]\nrule = dnsblscore.score > 6 -> DEFER_IF_PERMIT 4.7.1 blacklist score "
    "${dnsblscore.score}\n",
    create,
    print_blacklists,
};

}  // namespace ppolicy
