// SPDX-License-Identifier: GPL-2.0-or-later
// The cold-path prefetch contract. Modules run lazily, one after the other,
// so a request that needs several DNS modules would pay one round trip per
// module. A module whose check() begins with DNS questions that the request
// alone determines (a DNSBL name of the client address, the client's PTR,
// the sender domain's TXT) says which by implementing DnsPrefetch. When the
// evaluator is about to run the first such module of a request, the module
// runner (runtime/runner.cpp) collects the first questions of every call
// site the policy may still run and whose result is not in the result cache,
// sends them in one batch and keeps the answers for the rest of the request
// (dns::Resolver's memo): the modules then find them there when they ask.
//
// first_questions() must list only what check() would ask first for these
// inputs, exactly as check() builds the queries (type, name, name rule), and
// nothing that depends on an answer: the prefetch never sends a question the
// sequential evaluation could not have sent. Worker side, no side effects.
#pragma once

#include <vector>

#include "dns/resolver.hpp"
#include "modules/module.hpp"

namespace ppolicy {

class DnsPrefetch {
 public:
  virtual ~DnsPrefetch() = default;
  // `services` for the breakers: a zone or server whose breaker is not
  // closed is left to check() (it skips it, or runs the trial).
  virtual void first_questions(const Request& request, const CallArgs& args, Services& services,
                               std::vector<dns::Query>& out) const = 0;
};

}  // namespace ppolicy
