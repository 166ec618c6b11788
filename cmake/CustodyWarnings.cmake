# custody_target_defaults(<target>): warnings (errors with CUSTODY_WERROR) and
# the Boost configuration every target shares. Applied per target, never as
# global flags.
function(custody_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wno-unused-parameter)
  if(CUSTODY_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  target_compile_definitions(${target} PRIVATE BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW)
endfunction()
