# Warnings are errors in Sluice's own targets (not in third-party headers, which come in as SYSTEM).
function(sluice_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Werror)
endfunction()
