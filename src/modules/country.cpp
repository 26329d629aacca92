// SPDX-License-Identifier: GPL-2.0-or-later
// Country: the country of an address (or of a host name, resolved through
// our resolver) from a MaxMind GeoIP2/GeoLite2 Country database (.mmdb,
// libmaxminddb), IPv4 and IPv6. The database is opened in create(), in the
// master, as a read-only mmap that the workers share after fork; a reload
// opens the file again (a new database takes effect with SIGHUP).
#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>

#include "base/strings.hpp"
#include "dns/resolver.hpp"
#include "modules/module.hpp"
#include "proto/request.hpp"

namespace ppolicy {
namespace {

using namespace dns;

struct CountryParams {
  std::string param;
  std::string data_path;
  std::vector<std::string> country;
};

const Option k_params[] = {
    bound_row<&CountryParams::param>({"param", OptType::string, nullptr,
                                      "request attribute with the address or host name (e.g. "
                                      "client_address; a mail address: its "
                                      "domain)",
                                      nullptr, LLONG_MIN, LLONG_MAX, true}),
    bound_row<&CountryParams::data_path>({"dataPath", OptType::string, nullptr,
                                          "path to a GeoIP2/GeoLite2 Country database (.mmdb)",
                                          nullptr, LLONG_MIN, LLONG_MAX, true}),
    bound_row<&CountryParams::country>(
        {"country", OptType::list, nullptr,
         "check if the address is in this country (ISO code; several allowed)"}),
};

const FieldSpec k_fields[] = {
    {"country", Type::string, "ISO 3166 code of the country (\"\" when unknown)"},
    {"continent", Type::string, "continent code (EU, NA, ...)"},
};

class Country final : public Module {
 public:
  Country(std::string param, std::vector<std::string> countries)
      : d_param(std::move(param)), d_countries(std::move(countries)) {}
  ~Country() override {
    if (d_open) MMDB_close(&d_db);
  }

  void open(const std::string& path) {
    errno = 0;
    int rc = MMDB_open(path.c_str(), MMDB_MODE_MMAP, &d_db);
    int err = errno;
    // No distribution ships a free Country database: say where one comes from.
    const char* hint = err == ENOENT ? " (MaxMind's free GeoLite2 Country database: get it "
                                       "with geoipupdate, Debian package geoipupdate)"
                                     : "";
    if (rc != MMDB_SUCCESS)
      throw KeyError("dataPath", format("%s: %s%s", path.c_str(),
                                        (rc == MMDB_IO_ERROR || rc == MMDB_FILE_OPEN_ERROR) && err
                                            ? std::strerror(err)
                                            : MMDB_strerror(rc),
                                        hint));
    d_open = true;
  }

  bool cache_key(const Request& r, const CallArgs&, std::string& key) const override {
    key += lower(r.get(d_param));
    return true;
  }

  Result check(Request& request, const CallArgs&, CheckContext& ctx) override {
    std::string value(trim(request.get(d_param)));
    if (value.find('@') != std::string::npos) value = std::string(address_domain(value));
    if (value.empty() || value == "unknown")
      return Result(0, format("no %s to look up", d_param.c_str()));
    std::vector<IpAddress> addrs;
    if (auto ip = IpAddress::parse(value)) {
      addrs.push_back(*ip);
    } else {
      if (!valid_name(value))
        return Result(0, format("\"%s\" is neither an address nor a host name", value.c_str()));
      Query a = Query::a(value), aaaa = Query::aaaa(value);
      Query* qs[] = {&a, &aaaa};
      ctx.services().resource<Resolver>().resolve(qs, ctx.deadline());
      addrs = a.addrs;
      addrs.insert(addrs.end(), aaaa.addrs.begin(), aaaa.addrs.end());
      if (addrs.empty()) {
        Status s = failed(a.status) ? a.status : aaaa.status;
        Result r(0, format("%s: no address (%s)", value.c_str(), status_name(s)));
        r.transient = failed(a.status) || failed(aaaa.status);
        return r;
      }
    }
    for (const auto& ip : addrs) {
      std::string cc, cont;
      if (!lookup(ip, cc, cont)) continue;
      Result r;
      r.set("country", cc).set("continent", cont);
      if (d_countries.empty()) {
        r.code = 1;
        r.info = cc;
        return r;
      }
      bool match = false;
      for (const auto& c : d_countries)
        match = match || iequals(c, cc);
      r.code = match ? 1 : -1;
      r.info = cc;
      return r;
    }
    return Result(0, format("no country for %s", value.c_str())).set("country", "");
  }

 private:
  bool lookup(const IpAddress& ip, std::string& cc, std::string& cont) {
    sockaddr_storage ss{};
    if (ip.v4) {
      auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
      sa->sin_family = AF_INET;
      std::memcpy(&sa->sin_addr, &ip.bytes[12], 4);
    } else {
      auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
      sa->sin6_family = AF_INET6;
      std::memcpy(&sa->sin6_addr, ip.bytes.data(), 16);
    }
    int err = 0;
    MMDB_lookup_result_s r = MMDB_lookup_sockaddr(&d_db, reinterpret_cast<sockaddr*>(&ss), &err);
    if (err != MMDB_SUCCESS || !r.found_entry) return false;
    auto get = [&](const char* a, const char* b) {
      MMDB_entry_data_s d{};
      if (MMDB_get_value(&r.entry, &d, a, b, nullptr) == MMDB_SUCCESS && d.has_data &&
          d.type == MMDB_DATA_TYPE_UTF8_STRING)
        return std::string(d.utf8_string, d.data_size);  // not NUL-terminated
      return std::string();
    };
    cc = get("country", "iso_code");
    if (cc.empty()) cc = get("registered_country", "iso_code");  // e.g. anycast networks
    cont = get("continent", "code");
    return !cc.empty();
  }

  std::string d_param;
  std::vector<std::string> d_countries;
  MMDB_s d_db{};
  bool d_open = false;
};

std::unique_ptr<Module> create(const ModuleSetup& s) {
  auto p = s.bound<CountryParams>();
  std::vector<std::string> countries;
  for (const auto& c : p.country) {
    if (c.size() != 2)
      throw KeyError("country", format("\"%s\" is not a two-letter country code", c.c_str()));
    countries.push_back(upper(c));
  }
  auto m = std::make_unique<Country>(p.param, std::move(countries));
  m->open(p.data_path);
  return m;
}

}  // namespace

extern const ModuleType k_country_type = {
    "Country",
    "Country module for recognizing the country of an IP address (IPv4 and IPv6) or of a\n"
    "host name (resolved through [dns]), from a MaxMind GeoIP2/GeoLite2 Country database\n"
    "(.mmdb). The database is read when the configuration is loaded (reload after\n"
    "replacing it).",
    k_params,
    {0, 0, 0},
    k_fields,
    {},
    "    1 .... ok, country match (or no country parameter); the info is the country code\n"
    "    0 .... undefined (unknown address, no country in the database, DNS error)\n"
    "   -1 .... failed, country doesn't match; the info is the country code\n",
    "[module country1]\ntype = Country\nparam = client_address\n"
    "dataPath = /usr/share/GeoIP/GeoLite2-Country.mmdb\n\n"
    "[module country_cz]\ntype = Country\nparam = client_address\n"
    "dataPath = /usr/share/GeoIP/GeoLite2-Country.mmdb\ncountry = CZ\n",
    create,
};

}  // namespace ppolicy
