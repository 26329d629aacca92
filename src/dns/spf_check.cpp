// SPDX-License-Identifier: GPL-2.0-or-later
#include "dns/spf_check.hpp"

#include "base/strings.hpp"
#include "dns/spf_record.hpp"

namespace ppolicy::dns {
namespace {

// Nesting of include/redirect: the 10-term limit ends every chain first;
// this only guards the stack.
constexpr int k_max_depth = 12;

enum class Match : uint8_t { no, yes, temperror, permerror };

SpfResult qualified(char q) {
  switch (q) {
    case '-':
      return SpfResult::fail;
    case '~':
      return SpfResult::softfail;
    case '?':
      return SpfResult::neutral;
  }
  return SpfResult::pass;
}

// Names and terms in problem texts: they come from the sender and from DNS,
// and the text goes into the cached result (entries hold ~500 bytes).
std::string quote(std::string_view s, size_t max = 60) {
  return log_quote(s, max);
}

std::string too_many_lookups() {
  return format("more than %d DNS lookups", SpfLookups::k_max_terms);
}

std::string too_many_voids() {
  return format("more than %d void lookups", SpfLookups::k_max_void);
}

SpfOutcome outcome(SpfResult r, std::string problem) {
  SpfOutcome o;
  o.result = r;
  o.problem = std::move(problem);
  return o;
}

class Evaluator {
 public:
  Evaluator(SpfLookups& dns, const SpfMacroValues& v) : d_dns(dns), d_v(v) {}

  SpfOutcome check(const std::string& domain, int depth);

 private:
  Match term(const SpfTerm& t, const std::string& d, int depth, std::string* why);
  Match addresses(const SpfTerm& t, const std::string& target, bool mx, std::string* why);
  SpfLookups& d_dns;
  const SpfMacroValues& d_v;
};

SpfOutcome Evaluator::check(const std::string& domain, int depth) {
  if (depth > k_max_depth) return outcome(SpfResult::permerror, "includes nested too deep");
  if (!spf_valid_domain(domain))
    return outcome(SpfResult::none, format("malformed domain \"%s\"", quote(domain).c_str()));
  Query q = d_dns.lookup(QType::txt, domain, false);
  if (failed(q.status))
    return outcome(SpfResult::temperror,
                   format("TXT of %s: %s", quote(domain).c_str(), status_name(q.status)));
  auto records = spf_records(q.names);
  if (records.empty())
    return outcome(SpfResult::none, format("no SPF record at %s", quote(domain).c_str()));
  if (records.size() > 1)
    return outcome(SpfResult::permerror,
                   format("%zu SPF records at %s", records.size(), quote(domain).c_str()));
  std::string why;
  auto rec = parse_spf_record(records.front(), &why);
  if (!rec)
    return outcome(SpfResult::permerror,
                   format("%s: %s", quote(domain).c_str(), quote(why, 100).c_str()));
  for (const auto& t : rec->terms) {
    Match m = term(t, domain, depth, &why);
    if (m == Match::no) continue;
    if (m == Match::temperror) return outcome(SpfResult::temperror, why);
    if (m == Match::permerror) return outcome(SpfResult::permerror, why);
    SpfOutcome o = outcome(qualified(t.qualifier), "");
    o.mechanism = t.text;
    o.domain = domain;
    o.exp = rec->exp;
    return o;
  }
  if (!rec->redirect.empty()) {
    // After all mechanisms, wherever it stands (§6.1); the target's own
    // exp= (not this record's) explains a fail.
    if (!d_dns.begin_term()) return outcome(SpfResult::permerror, too_many_lookups());
    auto target = expand_domain(rec->redirect, d_v, domain);
    SpfOutcome o = target ? check(*target, depth + 1)
                          : outcome(SpfResult::none, "redirect= expands to no name");
    if (o.result == SpfResult::none)
      return outcome(SpfResult::permerror, o.problem + " (redirect)");
    return o;
  }
  SpfOutcome o = outcome(SpfResult::neutral, "");
  o.domain = domain;
  return o;
}

Match Evaluator::term(const SpfTerm& t, const std::string& d, int depth, std::string* why) {
  const IpAddress& ip = d_dns.client();
  switch (t.mech) {
    case SpfMech::all:
      return Match::yes;
    case SpfMech::ip4:
      return ip.v4 && spf_net_match(t.net, t.cidr4, ip) ? Match::yes : Match::no;
    case SpfMech::ip6:
      return !ip.v4 && spf_net_match(t.net, t.cidr6, ip) ? Match::yes : Match::no;
    default:
      break;
  }
  if (!d_dns.begin_term()) {
    *why = too_many_lookups();
    return Match::permerror;
  }
  std::string target = d;
  if (!t.domain.empty()) target = expand_domain(t.domain, d_v, d).value_or("");
  switch (t.mech) {
    case SpfMech::include: {
      SpfOutcome o = check(target, depth + 1);
      switch (o.result) {
        case SpfResult::pass:
          return Match::yes;
        case SpfResult::fail:
        case SpfResult::softfail:
        case SpfResult::neutral:
          return Match::no;
        case SpfResult::temperror:
          *why = o.problem;
          return Match::temperror;
        case SpfResult::none:
          *why = o.problem + " (include)";
          return Match::permerror;
        case SpfResult::permerror:
          *why = o.problem;
          return Match::permerror;
      }
      return Match::permerror;
    }
    case SpfMech::a:
    case SpfMech::mx:
      return addresses(t, target, t.mech == SpfMech::mx, why);
    case SpfMech::ptr: {
      for (const auto& n : d_dns.validated_names(true))
        if (spf_name_under(n, target)) return Match::yes;
      break;
    }
    case SpfMech::exists: {
      Query q = d_dns.lookup(QType::a, target, true);
      if (failed(q.status)) {
        *why = format("%s: %s", quote(t.text).c_str(), status_name(q.status));
        return Match::temperror;
      }
      if (!q.addrs.empty()) return Match::yes;
      break;
    }
    default:
      break;
  }
  if (d_dns.void_exceeded()) {
    *why = too_many_voids();
    return Match::permerror;
  }
  return Match::no;
}

// a and mx: any address of the target (of its mail hosts) in the prefix.
Match Evaluator::addresses(const SpfTerm& t, const std::string& target, bool mx, std::string* why) {
  const IpAddress& ip = d_dns.client();
  int bits = ip.v4 ? t.cidr4 : t.cidr6;
  auto matches = [&](const Query& q) {
    for (const auto& a : q.addrs)
      if (spf_net_match(a, bits, ip)) return true;
    return false;
  };
  Query q = d_dns.lookup(mx ? QType::mx : (ip.v4 ? QType::a : QType::aaaa), target, true);
  if (failed(q.status)) {
    *why = format("%s: %s", quote(t.text).c_str(), status_name(q.status));
    return Match::temperror;
  }
  if (d_dns.void_exceeded()) {
    *why = too_many_voids();
    return Match::permerror;
  }
  if (!mx) return matches(q) ? Match::yes : Match::no;
  if (q.mx.size() > SpfLookups::k_max_names) {
    *why = format("%s: more than %zu MX records", quote(t.text).c_str(), SpfLookups::k_max_names);
    return Match::permerror;
  }
  std::vector<std::string> hosts;
  for (const auto& m : q.mx)
    if (!m.host.empty()) hosts.push_back(m.host);  // a null MX names no host (RFC 7505)
  bool failure = false;
  for (const auto& a : d_dns.addresses(hosts)) {
    if (matches(a)) return Match::yes;
    if (failed(a.status) && !failure) {
      failure = true;
      *why =
          format("%s: %s: %s", quote(t.text).c_str(), quote(a.name).c_str(), status_name(a.status));
    }
  }
  return failure ? Match::temperror : Match::no;
}

}  // namespace

const char* spf_result_name(SpfResult r) {
  switch (r) {
    case SpfResult::none:
      return "none";
    case SpfResult::neutral:
      return "neutral";
    case SpfResult::pass:
      return "pass";
    case SpfResult::fail:
      return "fail";
    case SpfResult::softfail:
      return "softfail";
    case SpfResult::temperror:
      return "temperror";
    case SpfResult::permerror:
      return "permerror";
  }
  return "?";
}

bool spf_valid_domain(std::string_view domain) {
  if (!valid_name(domain, NameRule::spf) || domain.front() == '[') return false;
  if (domain.back() == '.') domain.remove_suffix(1);
  return domain.find('.') != std::string_view::npos;
}

SpfOutcome spf_check_host(SpfLookups& dns, const SpfMacroValues& v, const std::string& domain) {
  return Evaluator(dns, v).check(domain, 0);
}

}  // namespace ppolicy::dns
