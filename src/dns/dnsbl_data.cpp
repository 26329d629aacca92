// SPDX-License-Identifier: GPL-2.0-or-later
#include "dns/dnsbl_data.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <unistd.h>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "base/value.hpp"
#include "conf/error.hpp"
#include "dns/resolver.hpp"

namespace ppolicy::dns {
namespace {

uint32_t v4_value(const IpAddress& a) {
  return (uint32_t{a.bytes[12]} << 24) | (uint32_t{a.bytes[13]} << 16) |
         (uint32_t{a.bytes[14]} << 8) | uint32_t{a.bytes[15]};
}

std::optional<uint32_t> parse_v4(std::string_view text) {
  auto a = IpAddress::parse(text);
  if (!a || !a->v4) return std::nullopt;
  return v4_value(*a);
}

// One element of the LISTED column; empty optional when malformed.
std::optional<ListedRange> parse_range(std::string_view t) {
  ListedRange r;
  if (!t.empty() && t[0] == '&') {
    auto m = parse_int(t.substr(1));
    if (!m || *m <= 0 || *m > 255) return std::nullopt;
    r.mask = static_cast<uint32_t>(*m);
    r.lo = 0x7f000000u;  // 127.0.0.0/24
    r.hi = 0x7f0000ffu;
    return r;
  }
  if (auto dash = t.find('-'); dash != std::string_view::npos) {
    auto lo = parse_v4(t.substr(0, dash)), hi = parse_v4(t.substr(dash + 1));
    if (!lo || !hi || *lo > *hi) return std::nullopt;
    r.lo = *lo, r.hi = *hi;
    return r;
  }
  auto net = IpNetwork::parse(t);
  if (!net || !net->base.v4) return std::nullopt;
  r.lo = v4_value(net->base);
  r.hi = net->bits == 32 ? r.lo : r.lo | (0xffffffffu >> net->bits);  // (x >> 32 is undefined)
  return r;
}

}  // namespace

const char* kind_name(ListKind k) {
  switch (k) {
    case ListKind::ip4:
      return "ip4";
    case ListKind::ip46:
      return "ip46";
    case ListKind::domain:
      return "domain";
  }
  return "?";
}

bool ListedRange::contains(uint32_t answer) const {
  if (answer < lo || answer > hi) return false;
  return mask == 0 || (answer & mask) != 0;
}

bool Blacklist::lists(const IpAddress& answer) const {
  if (!answer.v4) return false;
  uint32_t v = v4_value(answer);
  for (const auto& r : listed)
    if (r.contains(v)) return true;
  return false;
}

std::shared_ptr<const BlacklistData> BlacklistData::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path);
}

std::shared_ptr<const BlacklistData> BlacklistData::parse(std::string_view text,
                                                          const std::string& path) {
  auto data = std::make_shared<BlacklistData>();
  data->d_path = path;
  int lineno = 0;
  while (!text.empty()) {
    ++lineno;
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    auto w = split(line, " \t\r");
    if (w.empty()) continue;
    auto fail = [&](const std::string& what) {
      throw std::runtime_error(format("%s:%d: %s", path.c_str(), lineno, what.c_str()));
    };
    if (w.size() == 3 && w[1] == "alias") {
      // Another name of a list (ppolicy 2.x names of renamed lists); the
      // target must come first, so an alias never points to an alias.
      const Blacklist* target = data->find(w[2]);
      if (!target) fail(format("alias of an unknown list \"%s\"", w[2].c_str()));
      if (data->find(w[0])) fail(format("list \"%s\" defined twice", w[0].c_str()));
      data->d_aliases.emplace_back(w[0], static_cast<size_t>(target - data->d_lists.data()));
      continue;
    }
    if (w.size() < 5 || w.size() > 6)
      fail("expected NAME ZONE KIND LISTED SCORE [defunct], or NAME alias TARGET");
    Blacklist b;
    b.name = w[0];
    b.line = lineno;
    b.zone = normal_name(w[1]);
    if (!valid_name(b.zone)) fail(format("invalid zone \"%s\"", w[1].c_str()));
    if (w[2] == "ip4")
      b.kind = ListKind::ip4;
    else if (w[2] == "ip46")
      b.kind = ListKind::ip46;
    else if (w[2] == "domain")
      b.kind = ListKind::domain;
    else
      fail(format("unknown kind \"%s\" (ip4, ip46 or domain)", w[2].c_str()));
    b.listed_text = w[3];
    for (const auto& part : split(w[3], ",")) {
      auto r = parse_range(part);
      if (!r)
        fail(format("invalid listed answer \"%s\" (address, A-B range, network/len or &mask)",
                    part.c_str()));
      b.listed.push_back(*r);
    }
    if (b.listed.empty()) fail("no listed answers");
    auto score = parse_double(w[4]);
    if (!score) fail(format("invalid score \"%s\"", w[4].c_str()));
    b.score = *score;
    if (w.size() == 6) {
      if (w[5] != "defunct") fail(format("unknown flag \"%s\" (only \"defunct\")", w[5].c_str()));
      b.defunct = true;
    }
    if (data->find(b.name)) fail(format("list \"%s\" defined twice", b.name.c_str()));
    data->d_lists.push_back(std::move(b));
  }
  return data;
}

const Blacklist* BlacklistData::find(std::string_view name) const {
  for (const auto& b : d_lists)
    if (iequals(b.name, name)) return &b;
  for (const auto& [alias, index] : d_aliases)
    if (iequals(alias, name)) return &d_lists[index];
  return nullptr;
}

bool BlacklistData::known_answer(std::string_view zone, const IpAddress& answer) const {
  for (const auto& b : d_lists)
    if (!b.defunct && b.zone == zone && b.lists(answer)) return true;
  return false;
}

std::string BlacklistData::describe() const {
  std::string out = format("Blacklists in %s:\n", d_path.c_str());
  out +=
      format("    %-26s %-28s %-6s %-8s %s\n", "NAME", "ZONE", "KIND", "SCORE", "LISTED ANSWERS");
  for (const auto& b : d_lists)
    out += format("    %-26s %-28s %-6s %-8s %s%s\n", b.name.c_str(), b.zone.c_str(),
                  kind_name(b.kind), number_text(b.score).c_str(), b.listed_text.c_str(),
                  b.defunct ? "  (defunct: never queried)" : "");
  if (!d_aliases.empty()) out += "  Other names (ppolicy 2.x names of renamed lists):\n";
  for (const auto& [alias, index] : d_aliases)
    out += format("    %-26s = %s\n", alias.c_str(), d_lists[index].name.c_str());
  return out;
}

// The directory of the running binary, "" when unknown. The build puts a copy
// of conf/dnsbl.dat next to the uninstalled daemon (build/src/), so that
// `src/ppolicyd -c conf/examples/X.conf -t` works in a source tree without
// an environment variable; an installed daemon (sbindir) has none there.
static std::string binary_dir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string path(buf, static_cast<size_t>(n));
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

std::string default_data_file() {
  const char* dir = std::getenv("PPOLICY_DATADIR");
  if (dir && *dir) return std::string(dir) + "/dnsbl.dat";
  std::string beside = binary_dir();
  if (!beside.empty() && access((beside + "/dnsbl.dat").c_str(), R_OK) == 0)
    return beside + "/dnsbl.dat";
  return PPOLICY_DATADIR "/dnsbl.dat";
}

std::shared_ptr<const BlacklistData> load_module_data(const std::optional<std::string>& data_file) {
  std::string path = data_file ? *data_file : default_data_file();
  try {
    return BlacklistData::load(path);
  } catch (const std::exception& e) {
    throw KeyError("dataFile", e.what());
  }
}

const Blacklist& module_list(const BlacklistData& data, const std::string& name, const char* key) {
  const Blacklist* b = data.find(name);
  if (!b)
    throw KeyError(key, format("no blacklist \"%s\" in %s (ppolicyd -M Dnsbl lists them)",
                               name.c_str(), data.path().c_str()));
  if (b->defunct)
    log_warn("blacklist %s (%s) is defunct and never queried; remove it from the configuration",
             b->name.c_str(), b->zone.c_str());
  return *b;
}

void print_blacklists() {
  std::string path = default_data_file();
  try {
    auto data = BlacklistData::load(path);
    std::printf("%s\n", data->describe().c_str());
  } catch (const std::exception& e) {
    std::printf("Blacklists: %s\n\n", e.what());
  }
}

}  // namespace ppolicy::dns
