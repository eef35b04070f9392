// Status propagation macros (Abseil 20220623 exports none for users) and an always-on check
// for internal invariants (this Abseil has no absl/log).
#ifndef SIMDNET_TENSOR_STATUS_MACROS_H_
#define SIMDNET_TENSOR_STATUS_MACROS_H_

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SIMDNET_STATUS_CONCAT_INNER_(a, b) a##b
#define SIMDNET_STATUS_CONCAT_(a, b) SIMDNET_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define SIMDNET_RETURN_IF_ERROR(expr)                              \
  do {                                                             \
    ::absl::Status simdnet_status_ = (expr);                       \
    if (!simdnet_status_.ok()) return simdnet_status_;             \
  } while (0)

// `lhs = value of (expr)` where expr is an absl::StatusOr<T>; returns its status on error.
// `lhs` may be a declaration: SIMDNET_ASSIGN_OR_RETURN(Tensor t, LoadTensor(path));
#define SIMDNET_ASSIGN_OR_RETURN(lhs, expr)                                         \
  SIMDNET_ASSIGN_OR_RETURN_IMPL_(SIMDNET_STATUS_CONCAT_(simdnet_statusor_, __LINE__), \
                                 lhs, expr)
#define SIMDNET_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return std::move(tmp).status();       \
  lhs = std::move(tmp).value()

// Aborts with a message when an internal invariant (a bug in simdnet, never bad user input)
// does not hold. Always on, including in optimized builds.
#define SIMDNET_CHECK(cond)                                                  \
  do {                                                                       \
    if (!(cond)) {                                                           \
      std::fprintf(stderr, "%s:%d: SIMDNET_CHECK failed: %s\n", __FILE__,    \
                   __LINE__, #cond);                                         \
      std::abort();                                                          \
    }                                                                        \
  } while (0)

#endif  // SIMDNET_TENSOR_STATUS_MACROS_H_
