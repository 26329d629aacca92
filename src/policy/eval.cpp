// SPDX-License-Identifier: GPL-2.0-or-later
#include "policy/eval.hpp"

#include <cmath>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "proto/action.hpp"
#include "proto/request.hpp"
#include "shm/stats.hpp"

namespace ppolicy {

Evaluation::Evaluation(const Policy& policy, Request& request, CallRunner& runner,
                       SteadyClock::time_point deadline, const std::string& default_action,
                       StatsBuffer* stats, SteadyClock::time_point start, EvalScratch* scratch)
    : d_policy(policy),
      d_request(request),
      d_runner(runner),
      d_deadline(deadline),
      d_default_action(default_action),
      d_stats(stats),
      d_s(scratch ? *scratch : d_own),
      d_memo(d_s.memo),
      d_now(start),
      d_vars(d_s.vars),
      d_runs(d_s.runs) {
  d_memo.assign(policy.calls.size(), -1);
  d_vars.assign(policy.vars.size(), Value());
  d_runs.clear();
  d_runs.reserve(policy.calls.size());  // one allocation, not one per growth
}

Decision Evaluation::decide() {
  Decision d;
  decide(d);
  return d;
}

void Evaluation::decide(Decision& d) {
  d.reply.clear();
  d.note.clear();
  d.policy = &d_policy;
  d.statement = nullptr;
  d.timed_out = d.failed = false;
  try {
    for (const auto& st : d_policy.statements) {
      d_statement = static_cast<int>(&st - d_policy.statements.data());
      switch (st.kind) {
        case Statement::set:
          d_vars[st.var] = eval(*st.expr);
          break;
        case Statement::run:
          if (!st.cond || eval_bool(*st.cond)) (void)eval(*st.expr);
          break;
        case Statement::rule:
          if (!eval_bool(*st.cond)) break;
          [[fallthrough]];
        case Statement::default_: {
          std::string text = expand(st.action);
          std::string why;
          if (!finish_action_text(st.action.word, text, &why)) {
            log_warn("policy %s rule %d (line %d): expanded action is invalid (%s); answering %s",
                     d_policy.name.c_str(), st.number, st.line, why.c_str(),
                     d_default_action.c_str());
            d.failed = true;
            d.note = "invalid expanded action: " + why;
            d.reply = d_default_action;
          } else {
            d.reply = text.empty() ? st.action.word : st.action.word + " " + text;
          }
          d.statement = &st;
          if (d_stats) d_stats->add(st.stat_matches);
          d.runs.swap(d_runs);
          return;
        }
      }
    }
    d.reply = "DUNNO";
  } catch (const Timeout&) {
    d.timed_out = true;
    d.note = "request_timeout reached";
    d.reply = d_default_action;
  } catch (const std::exception& e) {
    // Exception text may carry request or backend data (a module's error):
    // quoted, it cannot forge a log line or send terminal escapes.
    std::string what = log_quote(e.what());
    log_error("policy %s: evaluation failed: %s", d_policy.name.c_str(), what.c_str());
    d.failed = true;
    d.note = what;
    d.reply = d_default_action;
  }
  d.runs.swap(d_runs);
}

std::string Evaluation::expand(const Action& a) {
  std::string out;
  for (const auto& part : a.text)
    out += part.expr ? eval(*part.expr).text() : part.literal;
  return out;
}

const ModuleRun& Evaluation::call(int site) {
  if (d_memo[site] >= 0) return d_runs[d_memo[site]];
  // The latest reading, not a new one: only policy evaluation (no waiting)
  // has happened since, and the module is given the deadline itself.
  if (d_now >= d_deadline) throw Timeout{};
  if (!d_prefetched && d_runner.prefetches(d_policy.calls[site])) {
    // The first module of this request that needs DNS: ask, together with
    // its questions, those of every site a later statement (or this one)
    // may still run. One round trip instead of one per module.
    std::vector<const CallSite*> still{&d_policy.calls[site]};
    for (size_t c = 0; c < d_policy.calls.size(); ++c)
      if (static_cast<int>(c) != site && d_memo[c] < 0 &&
          d_policy.calls[c].last_statement >= d_statement)
        still.push_back(&d_policy.calls[c]);
    d_prefetched = d_runner.prefetch(still, d_request, d_deadline);
  }
  d_runs.push_back(d_runner.run(d_policy.calls[site], d_request, d_deadline));
  d_memo[site] = static_cast<int>(d_runs.size() - 1);
  // A module that overran the deadline cannot decide this request any more.
  const ModuleRun& run = d_runs.back();
  d_now = run.end != SteadyClock::time_point{} ? run.end : SteadyClock::now();
  if (d_now > d_deadline) throw Timeout{};
  return d_runs.back();
}

bool Evaluation::eval_bool(const Node& n) {
  switch (n.op) {
    case Op::and_:
      return eval_bool(*n.kids[0]) && eval_bool(*n.kids[1]);
    case Op::or_:
      return eval_bool(*n.kids[0]) || eval_bool(*n.kids[1]);
    case Op::not_:
      return !eval_bool(*n.kids[0]);
    case Op::lt:
      return eval_num(*n.kids[0]) < eval_num(*n.kids[1]);
    case Op::le:
      return eval_num(*n.kids[0]) <= eval_num(*n.kids[1]);
    case Op::gt:
      return eval_num(*n.kids[0]) > eval_num(*n.kids[1]);
    case Op::ge:
      return eval_num(*n.kids[0]) >= eval_num(*n.kids[1]);
    case Op::eq:
    case Op::ne: {
      bool same;
      switch (n.kids[0]->type) {
        case Type::number:
          same = eval_num(*n.kids[0]) == eval_num(*n.kids[1]);
          break;
        case Type::boolean:
          same = eval_bool(*n.kids[0]) == eval_bool(*n.kids[1]);
          break;
        default: {
          // Left, then right (the operands of == are unsequenced): the
          // left view must stay valid while the right side runs a module.
          std::string a, b;
          std::string_view left = eval_view(*n.kids[0], a);
          same = left == eval_view(*n.kids[1], b);
          break;
        }
      }
      return n.op == Op::eq ? same : !same;
    }
    case Op::match:
    case Op::nomatch: {
      std::string scratch;
      bool m = n.kids[1]->value.re->search(eval_view(*n.kids[0], scratch));
      return n.op == Op::match ? m : !m;
    }
    case Op::in:
    case Op::notin: {
      const Node& r = *n.kids[1];
      bool found = false;
      std::string scratch;
      if (r.type == Type::net) {
        Value set = eval(r);
        found = set.net && set.net->contains(eval_view(*n.kids[0], scratch));
      } else {
        Value list = eval(r);
        if (r.elem == Type::number) {
          double x = eval_num(*n.kids[0]);
          for (const auto& v : *list.list)
            found = found || v.n == x;
        } else {
          std::string_view x = eval_view(*n.kids[0], scratch);
          for (const auto& v : *list.list)
            found = found || v.s == x;
        }
      }
      return n.op == Op::in ? found : !found;
    }
    case Op::mod_cached:
      return call(n.index).cached;
    case Op::var:
      return d_vars[n.index].b;
    case Op::lit:
      return n.value.b;
    default:
      return eval(n).b;
  }
}

double Evaluation::eval_num(const Node& n) {
  switch (n.op) {
    case Op::lit:
      return n.value.n;
    case Op::var:
      return d_vars[n.index].n;
    case Op::mod_code:
      return call(n.index).result.code;
    case Op::mod_time:
      return call(n.index).ms;
    case Op::attr: {
      auto v = parse_double(d_request.get(static_cast<Attr>(n.index)));
      return v ? *v : 0;
    }
    case Op::neg:
      return -eval_num(*n.kids[0]);
    case Op::add:
      return eval_num(*n.kids[0]) + eval_num(*n.kids[1]);
    case Op::sub:
      return eval_num(*n.kids[0]) - eval_num(*n.kids[1]);
    case Op::mul:
      return eval_num(*n.kids[0]) * eval_num(*n.kids[1]);
    case Op::div: {
      double d = eval_num(*n.kids[1]);
      double l = eval_num(*n.kids[0]);
      return d == 0 ? 0 : l / d;  // documented: division by zero gives 0
    }
    case Op::mod: {
      double d = eval_num(*n.kids[1]);
      double l = eval_num(*n.kids[0]);
      return d == 0 ? 0 : std::fmod(l, d);
    }
    default:
      return eval(n).n;
  }
}

std::string_view Evaluation::eval_view(const Node& n, std::string& scratch) {
  switch (n.op) {
    case Op::lit:
      return n.value.s;
    case Op::var:
      return d_vars[n.index].s;
    case Op::attr:
      return d_request.get(static_cast<Attr>(n.index));
    case Op::mod_info:
      return call(n.index).result.info;
    default:
      scratch = eval_str(n);
      return scratch;
  }
}

std::string Evaluation::eval_str(const Node& n) {
  switch (n.op) {
    case Op::lit:
    case Op::var:
    case Op::attr:
    case Op::mod_info: {
      std::string unused;  // (these never need eval_view's scratch)
      return std::string(eval_view(n, unused));
    }
    case Op::derived:
      return d_request.derived(static_cast<Derived>(n.index));
    case Op::concat:
      return eval_str(*n.kids[0]) + eval_str(*n.kids[1]);
    default:
      return eval(n).s;
  }
}

Value Evaluation::eval(const Node& n) {
  switch (n.type) {
    case Type::boolean:
      if (n.op != Op::builtin && n.op != Op::mod_field) return Value::boolean(eval_bool(n));
      break;
    case Type::number:
      if (n.op != Op::builtin && n.op != Op::mod_field) return Value::number(eval_num(n));
      break;
    case Type::string:
      if (n.op != Op::builtin && n.op != Op::mod_field && n.op != Op::lit && n.op != Op::var)
        return Value::string(eval_str(n));
      break;
    default:
      break;
  }
  switch (n.op) {
    case Op::lit:
      return n.value;
    case Op::var:
      return d_vars[n.index];
    case Op::mod_field: {
      const ModuleRun& r = call(n.index);
      if (const Value* v = r.result.field(n.value.s)) return *v;
      return n.type == Type::number ? Value::number(0) : Value::string("");
    }
    case Op::builtin: {
      const auto& k = n.kids;
      switch (static_cast<Builtin>(n.index)) {
        case Builtin::lower:
          return Value::string(lower(eval_str(*k[0])));
        case Builtin::upper:
          return Value::string(upper(eval_str(*k[0])));
        case Builtin::domain:
          return Value::string(lower(address_domain(eval_str(*k[0]))));
        case Builtin::localpart:
          return Value::string(std::string(address_local(eval_str(*k[0]))));
        case Builtin::length:
          return Value::number(static_cast<double>(eval_str(*k[0]).size()));
        case Builtin::contains:
          return Value::boolean(eval_str(*k[0]).find(eval_str(*k[1])) != std::string::npos);
        case Builtin::startswith: {
          std::string s = eval_str(*k[0]), p = eval_str(*k[1]);
          return Value::boolean(s.compare(0, p.size(), p) == 0 && s.size() >= p.size());
        }
        case Builtin::endswith: {
          std::string s = eval_str(*k[0]), p = eval_str(*k[1]);
          return Value::boolean(s.size() >= p.size() &&
                                s.compare(s.size() - p.size(), p.size(), p) == 0);
        }
        case Builtin::if_:
          return eval_bool(*k[0]) ? eval(*k[1]) : eval(*k[2]);
        case Builtin::number: {
          auto v = parse_double(eval_str(*k[0]));
          return Value::number(v ? *v : 0);
        }
        case Builtin::string:
          return Value::string(eval(*k[0]).text());
        case Builtin::attr:
          return Value::string(std::string(d_request.get(eval_str(*k[0]))));
        case Builtin::present:
          return Value::boolean(d_request.find(eval_str(*k[0])).has_value());
        case Builtin::min:
          return Value::number(std::min(eval_num(*k[0]), eval_num(*k[1])));
        case Builtin::max:
          return Value::number(std::max(eval_num(*k[0]), eval_num(*k[1])));
      }
      break;
    }
    default:
      break;
  }
  return Value{};
}

}  // namespace ppolicy
