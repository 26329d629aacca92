// SPDX-License-Identifier: GPL-2.0-or-later
// The blacklist data file (dnsbl.dat, installed in the share directory):
// one DNS blacklist (or SpamAssassin-style sub-rule of one) per line,
//
//   NAME  ZONE  KIND  LISTED  SCORE  [defunct]
//
// KIND is ip4 (IPv4 client addresses), ip46 (IPv4 and IPv6, RFC 5782 nibble
// form) or domain (RHSBL: sender domains, host names). LISTED is a
// comma-separated set of the A answers that mean "listed": addresses
// (127.0.0.2), ranges (127.0.0.2-127.0.0.11), networks (127.0.1.0/24) or
// SpamAssassin bit masks (&4: an answer in 127.0.0.0/24 whose last octet has
// a bit of 4). Any other answer never counts. SCORE is what DnsblScore adds
// when the list says listed (negative for allow lists; 0: DnsblScore skips
// the list). A defunct list is never queried (its zone may answer anything);
// it stays so configurations of ppolicy 2.x still load. A line
// `NAME alias TARGET` gives a list another name (a 2.x name of a renamed
// list); find() follows it.
//
// Loaded by the DNSBL modules' create() in the master (parse errors become
// configuration errors), and printed by `ppolicyd -M Dnsbl`.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/net.hpp"
#include "conf/option.hpp"

namespace ppolicy::dns {

enum class ListKind : uint8_t { ip4, ip46, domain };
const char* kind_name(ListKind k);

struct ListedRange {
  uint32_t lo = 0, hi = 0;  // inclusive, host order
  uint32_t mask = 0;        // non-zero: bit-mask form (&N)
  bool contains(uint32_t answer) const;
};

struct Blacklist {
  std::string name;
  std::string zone;
  ListKind kind = ListKind::ip4;
  std::vector<ListedRange> listed;
  std::string listed_text;  // as written
  double score = 0;
  bool defunct = false;
  int line = 0;

  bool lists(const IpAddress& answer) const;  // the answer means "listed"
  bool takes_ip(const IpAddress& ip) const {
    return kind == ListKind::ip46 || (kind == ListKind::ip4 && ip.v4);
  }
};

class BlacklistData {
 public:
  // Throws std::runtime_error("FILE:LINE: what") on a bad file.
  static std::shared_ptr<const BlacklistData> load(const std::string& path);
  static std::shared_ptr<const BlacklistData> parse(std::string_view text, const std::string& path);

  const std::string& path() const { return d_path; }
  const std::vector<Blacklist>& lists() const { return d_lists; }
  const Blacklist* find(std::string_view name) const;  // case-insensitive; follows aliases
  // Does any list of `zone` take this answer as a listing? Answers no list
  // knows (e.g. 127.255.255.254 "query refused") are errors of the zone.
  bool known_answer(std::string_view zone, const IpAddress& answer) const;
  // The table `ppolicyd -M Dnsbl` prints.
  std::string describe() const;

 private:
  std::string d_path;
  std::vector<Blacklist> d_lists;
  std::vector<std::pair<std::string, size_t>> d_aliases;  // name -> index in d_lists
};

// The data file used when a module does not name one: $PPOLICY_DATADIR, else
// dnsbl.dat next to the running binary (an uninstalled build), else the
// installed share directory.
std::string default_data_file();

// The DNSBL modules' `dataFile` row, bound to the std::optional<std::string>
// member M: it holds a value only when the user set one, so that the default
// follows $PPOLICY_DATADIR (default_data_file()).
template <auto M>
bool store_explicit_text(void* obj, const OptValue& v, std::string*) {
  if (v.explicit_)
    static_cast<typename option_detail::member<decltype(M)>::owner*>(obj)->*M = v.text;
  return true;
}
template <auto M>
constexpr Option data_file_row() {
  return {.name = "dataFile",
          .type = OptType::string,
          .def = PPOLICY_DATADIR "/dnsbl.dat",
          .help = "the blacklist data file",
          .store = &store_explicit_text<M>};
}

// For the DNSBL modules' create(): the file of their `dataFile` parameter
// (the default file when not set), and one list of it by name. Both throw
// KeyError; a defunct list is accepted with a warning.
std::shared_ptr<const BlacklistData> load_module_data(const std::optional<std::string>& data_file);
const Blacklist& module_list(const BlacklistData& data, const std::string& name, const char* key);

// extra_docs of the DNSBL module types: the blacklists of the default file.
void print_blacklists();

}  // namespace ppolicy::dns
