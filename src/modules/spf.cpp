// SPDX-License-Identifier: GPL-2.0-or-later
// SPF: evaluate the sender's SPF record (RFC 7208) with libspf2 for the
// client address. The identity is the MAIL FROM address; for the null
// sender it is the HELO name (postmaster@HELO, RFC 7208 §2.4), and with
// identity = helo always the HELO name. libspf2 asks DNS through our
// resolver (same nameservers, same deadline). The result, the explanation
// and the text of a Received-SPF header are info fields, so a rule can
// `PREPEND Received-SPF: ${spf.header}`.
//
// One libspf2 server per worker, created on first use (never in the master).
#include <unistd.h>

#include <cstring>

// <spf2/spf.h> is not self-contained and has no extern "C".
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/types.h>
extern "C" {
#include <spf2/spf.h>
}

#include "base/log.hpp"
#include "dns/spf_layer.hpp"
#include "modules/module.hpp"
#include "proto/request.hpp"
#include "base/strings.hpp"

namespace ppolicy {
namespace {

using namespace dns;

const Option k_params[] = {
    {"identity", OptType::choice, "mailfrom",
     "mailfrom: check the MAIL FROM address (the HELO name for the null sender); helo: always the "
     "HELO name",
     "mailfrom|helo"},
};

const FieldSpec k_fields[] = {
    {"result", Type::string, "pass, fail, softfail, neutral, none, temperror or permerror"},
    {"explanation", Type::string, "the domain's explanation (for fail), or why the check failed"},
    {"header", Type::string,
     "the value of a Received-SPF header (PREPEND Received-SPF: ${NAME.header})"},
    {"identity", Type::string, "the identity checked: mailfrom or helo"},
};

struct Mapping {
  int code;
  const char* result;
};

// RFC 7208 result -> the module's code.
Mapping map_result(SPF_result_t r, SPF_errcode_t err) {
  switch (r) {
    case SPF_RESULT_PASS:
      return {1, "pass"};
    case SPF_RESULT_NEUTRAL:
      return {0, "neutral"};
    case SPF_RESULT_NONE:
      return {0, "none"};
    case SPF_RESULT_SOFTFAIL:
      return {-1, "softfail"};
    case SPF_RESULT_TEMPERROR:
      return {-1, "temperror"};
    case SPF_RESULT_FAIL:
      return {-2, "fail"};
    case SPF_RESULT_PERMERROR:
      return {-2, "permerror"};
    case SPF_RESULT_INVALID:
      break;
  }
  // libspf2 answers "(invalid)" when the top-level lookup fails or the
  // top-level record does not compile: a DNS error is a temperror, a
  // broken record a permerror (RFC 7208 §4.4, §4.6). Its own failures
  // (memory, configuration) are ours: unknown.
  if (err == SPF_E_DNS_ERROR) return {-1, "temperror"};
  if (err == SPF_E_NO_MEMORY || err == SPF_E_INTERNAL_ERROR || err == SPF_E_NOT_CONFIG ||
      err == SPF_E_SUCCESS)
    return {0, ""};
  return {-2, "permerror"};
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || !*buf) return "localhost";
  return buf;
}

class Spf final : public Module {
 public:
  explicit Spf(bool helo_only) : d_helo_only(helo_only) {}
  ~Spf() override { stop(); }

  void stop() noexcept override {
    if (d_server) SPF_server_free(d_server);  // frees the DNS layer too
    d_server = nullptr;
  }

  bool cache_key(const Request& r, const CallArgs&, std::string& key) const override {
    key += r.get(Attr::client_address);
    key += '\0';
    if (!d_helo_only) key += lower(r.get(Attr::sender));
    key += '\0';
    key += lower(r.get(Attr::helo_name));
    return true;
  }

  Result check(Request& request, const CallArgs&, CheckContext& ctx) override {
    auto ip = IpAddress::parse(request.get(Attr::client_address));
    if (!ip) return Result(0, "SPF: no valid client address");
    std::string helo = lower(request.get(Attr::helo_name));
    if (!helo.empty() && helo.front() == '[') helo.clear();  // an address literal is no identity
    std::string sender = lower(request.get(Attr::sender));
    bool use_helo = d_helo_only || sender.empty();
    if (use_helo && (helo.empty() || !valid_name(helo)))
      return Result(0, "SPF: no HELO name to check").set("identity", "helo");
    if (!server(ctx)) return Result(0, "SPF: cannot create the libspf2 server");

    SPF_request_t* req = SPF_request_new(d_server);
    if (!req) return Result(0, "SPF: out of memory");
    if (ip->v4) {
      in_addr a{};
      std::memcpy(&a, &ip->bytes[12], 4);
      SPF_request_set_ipv4(req, a);
    } else {
      in6_addr a{};
      std::memcpy(&a, ip->bytes.data(), 16);
      SPF_request_set_ipv6(req, a);
    }
    if (!helo.empty()) SPF_request_set_helo_dom(req, helo.c_str());
    // The HELO identity is checked as postmaster@HELO, which libspf2 makes
    // of a from without "@".
    std::string from = use_helo ? helo : sender;
    Result res;
    res.set("identity", use_helo ? "helo" : "mailfrom");
    if (SPF_request_set_env_from(req, from.c_str()) != 0) {
      SPF_request_free(req);
      res.code = -2;
      res.info = format("SPF permerror: invalid identity \"%s\"", log_quote(from, 100).c_str());
      res.set("result", "permerror").set("explanation", "invalid identity");
      res.set("header",
              format("permerror (%s: invalid identity) client-ip=%s; envelope-from=\"%s\";",
                     d_rec_dom.c_str(), ip->str().c_str(), log_quote(from, 100).c_str()));
      return res;
    }
    d_dns.deadline = ctx.deadline();
    d_dns.lookups = 0;
    d_dns.worst = Status::ok;
    SPF_response_t* resp = nullptr;
    SPF_errcode_t err = SPF_request_query_mailfrom(req, &resp);
    SPF_result_t result = resp ? SPF_response_result(resp) : SPF_RESULT_INVALID;
    SPF_errcode_t rerr = resp ? SPF_response_errcode(resp) : err;
    Mapping m = map_result(result, rerr != SPF_E_SUCCESS ? rerr : err);
    auto text = [](const char* s) { return std::string(s ? s : ""); };
    std::string header = resp ? text(SPF_response_get_received_spf_value(resp)) : "";
    std::string expl = resp ? text(SPF_response_get_explanation(resp)) : "";
    std::string comment = resp ? text(SPF_response_get_header_comment(resp)) : "";
    if (result == SPF_RESULT_INVALID) {
      // libspf2 builds no Received-SPF text for "(invalid)": make one.
      std::string why = SPF_strerror(rerr != SPF_E_SUCCESS ? rerr : err);
      if (d_dns.worst != Status::ok) why += format(" (%s)", status_name(d_dns.worst));
      expl = why;
      comment = format("%s: %s", d_rec_dom.c_str(), why.c_str());
      if (*m.result)
        header = format("%s (%s) client-ip=%s; envelope-from=\"%s\"; helo=%s;", m.result,
                        comment.c_str(), ip->str().c_str(), from.c_str(), helo.c_str());
    }
    if (resp) SPF_response_free(resp);
    SPF_request_free(req);

    res.code = m.code;
    // A temperror (DNS failure) or our own failure is no answer about the sender.
    res.transient = !*m.result || std::string_view(m.result) == "temperror";
    res.set("result", m.result).set("explanation", expl).set("header", header);
    if (!*m.result)
      res.info = format("SPF check failed: %s", expl.c_str());
    else
      res.info = format("SPF %s: %s", m.result, comment.empty() ? from.c_str() : comment.c_str());
    return res;
  }

 private:
  bool server(CheckContext& ctx) {
    d_dns.resolver = &ctx.services().resource<Resolver>();
    if (d_server) return true;
    SPF_dns_server_t* layer = new_spf_dns_layer(&d_dns);
    if (!layer) return false;
    d_server = SPF_server_new_dns(layer, 0);
    if (!d_server) {
      layer->destroy(layer);
      return false;
    }
    d_rec_dom = host_name();
    SPF_server_set_rec_dom(d_server, d_rec_dom.c_str());
    return true;
  }

  bool d_helo_only;
  SPF_server_t* d_server = nullptr;
  SpfDns d_dns;
  std::string d_rec_dom;
};

std::unique_ptr<Module> create(const ModuleSetup& s) {
  install_spf_log_handlers();  // before any libspf2 call, in every process (inherited by fork)
  return std::make_unique<Spf>(s.params.str("identity") == "helo");
}

}  // namespace

extern const ModuleType k_spf_type = {
    "SPF",
    "This module uses the sender address and client IP to check SPF records in DNS\n"
    "(RFC 7208, libspf2) if they exist. For the null sender the HELO name is checked\n"
    "(as postmaster@HELO). The result, the explanation and the text of a Received-SPF\n"
    "header are info fields: `PREPEND Received-SPF: ${spf.header}`.",
    k_params,
    {86400, 21600, 86400},
    k_fields,
    {},
    "    1 .... SPF pass\n"
    "    0 .... SPF none or neutral, or the check could not run (no address, no HELO name)\n"
    "   -1 .... SPF softfail or temperror (DNS failure)\n"
    "   -2 .... SPF fail or permerror (invalid record)\n",
    "[module spf1]\ntype = SPF\n\n[policy main]\n"
    "rule = spf1 == -2 -> REJECT 5.7.1 SPF ${spf1.result}: ${spf1.explanation}\n"
    "rule = spf1 != -2 -> PREPEND Received-SPF: ${spf1.header}\n",
    create,
};

}  // namespace ppolicy
