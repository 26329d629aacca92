// SPDX-License-Identifier: GPL-2.0-or-later
// A libspf2 DNS layer (SPF_dns_server_t) backed by the worker's Resolver, so
// SPF evaluations ask the same [dns] nameservers as every other module and
// stop at the same deadline: each lookup libspf2 makes ends at
// min([dns] timeout, the request's deadline); past the deadline lookups fail
// at once (TRY_AGAIN, i.e. temperror). Worker side; the layer holds no
// state of its own beyond the SpfDns it points to.
//
// Also the libspf2 message handlers (its default error handler prints to
// stderr and aborts): they log through our log instead.
#pragma once

#include "dns/resolver.hpp"

struct SPF_dns_server_struct;

namespace ppolicy::dns {

struct SpfDns {
  Resolver* resolver = nullptr;
  SteadyClock::time_point deadline{};
  int lookups = 0;            // lookups made in the current evaluation
  Status worst = Status::ok;  // the first failure seen (timeout, servfail)
};

// A new layer; libspf2 frees it (SPF_server_free -> destroy). `hook` must
// outlive the SPF server.
SPF_dns_server_struct* new_spf_dns_layer(SpfDns* hook);

// Route libspf2's error/warning/info/debug messages to our log. Errors are
// fatal in libspf2 (its handler must not return): logged, then abort().
void install_spf_log_handlers();

}  // namespace ppolicy::dns
