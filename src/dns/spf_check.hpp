// SPDX-License-Identifier: GPL-2.0-or-later
// check_host() of RFC 7208 (§4-§6): the SPF evaluator of the SPF module.
// Worker side, called by modules/spf.cpp once per request (not cached).
//
// Ours, not libspf2's. ppolicyd used libspf2 1.2.10 (Debian 12; no upstream
// release since 2014) and passed 141 of the 203 tests of the RFC 7208 test
// suite; what it got wrong is in its evaluator, not around it: its compiled
// records cannot hold a /0 prefix (0 means "default" in its byte code), it
// counts the 10-lookup limit per record (an include starts again at 0) and
// has no void-lookup limit, it evaluates redirect= where it stands, accepts
// domain-specs the ABNF refuses, and its macro expander garbles explanation
// text (and is the subject of CVE-2023-42118). A layer around it would have
// had to re-parse and re-expand every record and still let it evaluate
// wrongly, so the evaluation is here, on the pieces: spf_record.cpp (record
// selection, the ABNF), spf_macro.cpp (expansion), spf_layer.cpp (DNS and
// the processing limits), spf_explain.cpp (explanations, Received-SPF).
//
// Not here: the module's identity rules (which sender, the HELO), caching.
#pragma once

#include <cstdint>
#include <string>

#include "dns/spf_layer.hpp"
#include "dns/spf_macro.hpp"

namespace ppolicy::dns {

enum class SpfResult : uint8_t { none, neutral, pass, fail, softfail, temperror, permerror };
const char* spf_result_name(SpfResult r);

struct SpfOutcome {
  SpfResult result = SpfResult::none;
  std::string problem;    // what went wrong (temperror, permerror; none: why none)
  std::string mechanism;  // the term that matched ("" when none did)
  // For the explanation of a fail (§6.2): the domain whose record gave the
  // result (a redirect's target, never an include's) and its exp=.
  std::string domain;
  std::string exp;
};

// check_host(<ip>, <domain>, <sender>) with the values of v (its d is
// `domain`). `domain` must be the sender's domain without a trailing dot;
// a malformed one gives none (§4.3).
SpfOutcome spf_check_host(SpfLookups& dns, const SpfMacroValues& v, const std::string& domain);

// A domain check_host() can start from: a valid name of 2 labels or more.
bool spf_valid_domain(std::string_view domain);

}  // namespace ppolicy::dns
