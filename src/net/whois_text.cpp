// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/whois_text.hpp"

#include <map>

#include "base/strings.hpp"

namespace ppolicy {
namespace {

// Keys, lower-cased, in order of preference for each value.
const char* const k_netname[] = {"netname"};
const char* const k_country[] = {"country"};
const char* const k_org[] = {"org-name", "orgname", "owner", "organisation", "org", "descr"};
const char* const k_range[] = {"inetnum", "inet6num", "netrange", "cidr"};

// Networks a registry returns when the address is not in its database.
const char* const k_placeholders[] = {"IANA-BLK", "NON-RIPE-NCC-MANAGED-ADDRESS-BLOCK",
                                      "IANA-NETBLOCK", "ERX-NETBLOCK"};

template <size_t N>
std::string pick(const std::map<std::string, std::string>& first, const char* const (&keys)[N]) {
  for (const char* k : keys) {
    auto it = first.find(k);
    if (it != first.end() && !it->second.empty()) return it->second;
  }
  return "";
}

// "whois://host[:port][/]" (ARIN ReferralServer) or a bare host name. The
// port is dropped: referrals are followed on the configured port only, so
// a whois server cannot send us to another service.
void set_referral(WhoisRecord& r, std::string_view v) {
  v = trim(v);
  if (v.empty()) return;
  if (v.find("://") != std::string_view::npos) {
    if (lower(v.substr(0, 8)) != "whois://") return;  // rwhois://, http://: not ours
    v.remove_prefix(8);
  }
  v = v.substr(0, v.find('/'));
  if (v.size() > 2 && v.front() == '[') {
    v = v.substr(1, v.find(']') == std::string_view::npos ? 0 : v.find(']') - 1);  // [IPv6]:port
  } else if (v.find(':') != std::string_view::npos && v.find(':') == v.rfind(':')) {
    v = v.substr(0, v.find(':'));  // host:port
  }
  for (char c : v)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != ':') return;
  r.refer_host = lower(v);
}

}  // namespace

bool WhoisRecord::found() const {
  for (const char* p : k_placeholders)
    if (iequals(netname, p)) return false;
  return !netname.empty() || !country.empty() || !org.empty();
}

WhoisRecord parse_whois(std::string_view text) {
  WhoisRecord r;
  std::map<std::string, std::string> first;
  std::string refer, referral_server;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty()) continue;
    if (line[0] == '%' || line[0] == '#') {
      std::string l = lower(line);
      if (l.find("no entries found") != std::string::npos ||
          l.find("no match found") != std::string::npos)
        r.no_entries = true;
      continue;
    }
    if (lower(line).rfind("no match found", 0) == 0) r.no_entries = true;
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    std::string key = lower(trim(line.substr(0, colon)));
    if (key.find(' ') != std::string::npos) continue;  // prose, not an attribute
    std::string value(trim(line.substr(colon + 1)));
    if (key == "refer" && refer.empty()) refer = value;
    if (key == "referralserver" && referral_server.empty()) referral_server = value;
    first.emplace(key, value);  // keeps the first value of each key
  }
  r.netname = pick(first, k_netname);
  r.country = upper(pick(first, k_country));
  r.org = pick(first, k_org);
  r.range = pick(first, k_range);
  if (!refer.empty())
    set_referral(r, refer);
  else if (!referral_server.empty())
    set_referral(r, referral_server);
  return r;
}

std::string whois_query_for(std::string_view host, std::string_view address) {
  static const char* const ripe_like[] = {"whois.ripe.net", "whois.apnic.net", "whois.afrinic.net"};
  for (const char* h : ripe_like)
    if (iequals(host, h))
      return format("-r %.*s\r\n", static_cast<int>(address.size()), address.data());
  return format("%.*s\r\n", static_cast<int>(address.size()), address.data());
}

}  // namespace ppolicy
