// SPDX-License-Identifier: GPL-2.0-or-later
// SPF: evaluate the sender's SPF record (RFC 7208) for the client address.
// The identity is the MAIL FROM address; for the null sender it is the
// HELO name (postmaster@HELO, RFC 7208 §2.4), and with identity = helo
// always the HELO name. The evaluation (dns/spf_check.cpp, ours: see there
// why not libspf2's) asks DNS through the worker's resolver (same
// nameservers, same deadline). The result, the explanation and the text of
// a Received-SPF header are info fields, so a rule can
// `PREPEND Received-SPF: ${spf.header}`.
//
// Worker side (create() checks the parameters in the master). Not here:
// the record grammar, macros, DNS limits (src/dns/spf_*.cpp).
#include <unistd.h>

#include "base/strings.hpp"
#include "conf/error.hpp"
#include "dns/spf_check.hpp"
#include "dns/spf_explain.hpp"
#include "dns/spf_record.hpp"
#include "modules/module.hpp"
#include "modules/prefetch.hpp"
#include "proto/request.hpp"
#include "svc/services.hpp"

namespace ppolicy {
namespace {

using namespace dns;

struct SpfParams {
  std::string identity;
  std::string default_explanation;
};

const Option k_params[] = {
    bound_row<&SpfParams::identity>({"identity", OptType::choice, "mailfrom",
                                     "mailfrom: check the MAIL FROM address (the HELO name for the "
                                     "null sender); helo: always the "
                                     "HELO name",
                                     "mailfrom|helo"}),
    bound_row<&SpfParams::default_explanation>(
        {"defaultExplanation", OptType::string, k_default_spf_explanation,
         "the explanation of a fail when the domain gives none (no exp=, or an unusable one); "
         "RFC 7208 macros are expanded (%{o} sender domain, %{c} client address, %{s} sender, "
         "...)"}),
};

const FieldSpec k_fields[] = {
    {"result", Type::string, "pass, fail, softfail, neutral, none, temperror or permerror"},
    {"explanation", Type::string,
     "for fail the domain's explanation (or defaultExplanation); for temperror/permerror why"},
    {"header", Type::string,
     "the value of a Received-SPF header (PREPEND Received-SPF: ${NAME.header})"},
    {"identity", Type::string, "the identity checked: mailfrom or helo"},
};

// RFC 7208 result -> the module's code.
int code_of(SpfResult r) {
  switch (r) {
    case SpfResult::pass:
      return 1;
    case SpfResult::neutral:
    case SpfResult::none:
      return 0;
    case SpfResult::softfail:
    case SpfResult::temperror:
      return -1;
    case SpfResult::fail:
    case SpfResult::permerror:
      return -2;
  }
  return 0;
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || !*buf) return "localhost";
  return buf;
}

class Spf final : public Module, public DnsPrefetch {
 public:
  Spf(bool helo_only, std::string default_explanation)
      : d_helo_only(helo_only), d_default(std::move(default_explanation)) {}

  // Exactly as sent: the local-part and the HELO name appear in explanations
  // (%{l}, %{h}) with their case.
  bool cache_key(const Request& r, const CallArgs&, std::string& key) const override {
    key += r.get(Attr::client_address);
    key += '\0';
    if (!d_helo_only) key += r.get(Attr::sender);
    key += '\0';
    key += r.get(Attr::helo_name);
    return true;
  }

  // check_host()'s first question: the TXT records of the identity's domain.
  void first_questions(const Request& request, const CallArgs&, Services&,
                       std::vector<Query>& out) const override {
    if (!IpAddress::parse(request.get(Attr::client_address))) return;
    SpfMacroValues v;
    identity(request, v);
    if (!spf_valid_domain(v.domain) || !valid_name(v.domain, NameRule::spf)) return;
    Query q = Query::txt(v.domain);
    q.rule = NameRule::spf;
    out.push_back(std::move(q));
  }

  Result check(Request& request, const CallArgs&, CheckContext& ctx) override {
    auto ip = IpAddress::parse(request.get(Attr::client_address));
    if (!ip) return Result(0, "SPF: no valid client address");
    if (d_receiver.empty()) d_receiver = host_name();
    std::string helo(request.get(Attr::helo_name));
    std::string sender(request.get(Attr::sender));
    SpfMacroValues v;
    bool use_helo = identity(request, v);
    v.sender = v.local + "@" + v.domain;
    v.helo = helo;  // an address literal too: it is what %{h} stands for
    v.ip = *ip;
    v.receiver = d_receiver;

    SpfLookups dns(ctx.services().resource<Resolver>(), ctx.deadline(), *ip);
    v.validated = [&dns](std::string_view d) { return dns.validated_name(d); };
    SpfOutcome o = spf_check_host(dns, v, v.domain);

    SpfHeader h;
    h.result = o.result;
    h.receiver = d_receiver;
    h.ip = *ip;
    h.envelope = sender;
    h.helo = helo;
    h.identity = use_helo ? "helo" : "mailfrom";
    h.identity_address = v.sender;

    std::string expl;
    if (o.result == SpfResult::fail)
      expl = spf_explanation(dns, v, o, d_default);
    else if (o.result == SpfResult::temperror || o.result == SpfResult::permerror)
      expl = o.problem;

    Result res;
    res.code = code_of(o.result);
    // A temperror (DNS failure) is no answer about the sender: not cached.
    res.transient = o.result == SpfResult::temperror;
    // Short: the fields say the rest, and all of it must fit a cache entry.
    res.info = format("SPF %s", spf_result_name(o.result));
    if (!o.mechanism.empty()) res.info += format(" (%s)", log_quote(o.mechanism, 60).c_str());
    res.set("result", spf_result_name(o.result)).set("explanation", expl);
    res.set("header", spf_header(h)).set("identity", h.identity);
    return res;
  }

 private:
  // RFC 7208 §4.3: the identity (the HELO name for the null sender or with
  // helo-only checks) into v.local and v.domain; true when it is the HELO.
  bool identity(const Request& request, SpfMacroValues& v) const {
    std::string helo(request.get(Attr::helo_name));
    std::string sender(request.get(Attr::sender));
    bool use_helo = d_helo_only || sender.empty();
    // No local-part is "postmaster".
    std::string id = use_helo ? "postmaster@" + helo : sender;
    auto at = id.rfind('@');
    v.local = at == std::string::npos ? "" : id.substr(0, at);
    v.domain = at == std::string::npos ? id : id.substr(at + 1);
    if (v.local.empty()) v.local = "postmaster";
    if (!v.domain.empty() && v.domain.back() == '.') v.domain.pop_back();
    return use_helo;
  }

  bool d_helo_only;
  std::string d_default;
  std::string d_receiver;
};

std::unique_ptr<Module> create(const ModuleSetup& s) {
  auto p = s.bound<SpfParams>();
  const std::string& text = p.default_explanation;
  std::string why;
  if (!valid_macro_string(text, MacroUse::explanation, &why))
    throw KeyError("defaultExplanation", "not an RFC 7208 explanation string: " + why);
  return std::make_unique<Spf>(p.identity == "helo", text);
}

}  // namespace

extern const ModuleType k_spf_type = {
    "SPF",
    "This module uses the sender address and client IP to check SPF records in DNS\n"
    "(RFC 7208) if they exist. For the null sender the HELO name is checked\n"
    "(as postmaster@HELO). The result, the explanation and the text of a Received-SPF\n"
    "header are info fields: `PREPEND Received-SPF: ${spf.header}`.",
    k_params,
    {86400, 21600, 86400},
    k_fields,
    {},
    "    1 .... SPF pass\n"
    "    0 .... SPF none or neutral, or the check could not run (no client address)\n"
    "   -1 .... SPF softfail or temperror (DNS failure)\n"
    "   -2 .... SPF fail or permerror (invalid record)\n",
    "[module spf1]\ntype = SPF\n\n[policy main]\n"
    "rule = spf1 == -2 -> REJECT 5.7.1 SPF ${spf1.result}: ${spf1.explanation}\n"
    "rule = spf1 != -2 -> PREPEND Received-SPF: ${spf1.header}\n",
    create,
};

}  // namespace ppolicy
