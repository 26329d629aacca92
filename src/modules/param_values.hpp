// SPDX-License-Identifier: GPL-2.0-or-later
// The values a database or shared-state module works on (its `param` or
// `params`): for each parameter name the request's value (a Postfix
// attribute, a derived one such as sender_domain, or a result saved by an
// earlier module), unless the call gives values: the call argument
//   values = ["sender=a@example.org", "sender=b@example.org"]
// replaces the values of the parameters it names, and a parameter named
// several times is a list. As in the original, lists make a cartesian
// product: params sender, recipient with two senders and one recipient give
// two combinations. Worker side; pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "modules/module.hpp"

namespace ppolicy {

class Request;

// The call argument every list-like module offers.
extern const ArgSpec k_values_arg;

// Most combinations one call may make (more: the call answers 0).
inline constexpr size_t k_max_combinations = 256;

struct ParamValues {
  std::vector<std::vector<std::string>> values;  // per parameter, one or more values
  std::string missing;                           // first parameter without a value ("" if none)
};

// Value of one request attribute by name (derived attributes included);
// nullopt-like: `found` false when the request does not have it.
std::string request_value(const Request& request, std::string_view name, bool* found);

// The one combination of a call without `values` (the usual call): each
// parameter's request value appended to `out`, joined by `sep`, lower-cased
// if asked, without a vector per parameter. False (and `missing` set to the
// parameter) when the request lacks one.
bool append_request_values(std::string& out, const Request& request,
                           const std::vector<std::string>& params, bool lowercase, char sep,
                           std::string* missing);

ParamValues param_values(const Request& request, const CallArgs& args,
                         const std::vector<std::string>& params, bool lowercase);

// All combinations (one value per parameter), in order; empty when there
// would be more than `limit`.
std::vector<std::vector<std::string>> cartesian(const std::vector<std::vector<std::string>>& values,
                                                size_t limit = k_max_combinations);

// "sender=a@b, recipient=c@d" for messages.
std::string describe_combination(const std::vector<std::string>& params,
                                 const std::vector<std::string>& combo);

// Append the values to a cache key, unambiguously.
void append_key(std::string& key, const std::vector<std::vector<std::string>>& values);

}  // namespace ppolicy
