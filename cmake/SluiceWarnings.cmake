# Warnings are errors in Sluice's own targets (not in third-party headers, which come in as SYSTEM).
function(sluice_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Werror)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    # g++ 12 at -O3 reports impossible overlaps in std::string concatenation (GCC bug 105651);
    # keep -Wrestrict a warning there.
    target_compile_options(${target} PRIVATE -Wno-error=restrict)
  endif()
  if(SLUICE_SANITIZE AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # g++ 12 with -fsanitize=address reports a false maybe-uninitialized inside Boost.Signals2's
    # group_key (an optional<int> it never reads unset); keep it a warning there, not an error.
    target_compile_options(${target} PRIVATE -Wno-error=maybe-uninitialized)
  endif()
endfunction()
