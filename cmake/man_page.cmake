# Turns one manual page written in Markdown (docs/NAME.SECTION.md) into roff
# with go-md2man. Run at build time:
#   cmake -DMD2MAN=... -DINPUT=docs/x.1.md -DOUTPUT=man/x.1 -DVERSION=0.1.0 -P man_page.cmake
# The page's first line, "# name(section) — summary", becomes the title
# line and the NAME section that man, apropos and lexgrog read.
file(READ "${INPUT}" text)
string(REGEX MATCH "^# ([^(\n]+)\\(([0-9])\\) — ([^\n]+)\n" heading "${text}")
if(NOT heading)
  message(FATAL_ERROR "${INPUT}: the first line must be \"# name(section) — summary\"")
endif()
set(name "${CMAKE_MATCH_1}")
set(section "${CMAKE_MATCH_2}")
set(summary "${CMAKE_MATCH_3}")
string(LENGTH "${heading}" heading_length)
string(SUBSTRING "${text}" ${heading_length} -1 body)
string(TOUPPER "${name}" title)
if(section STREQUAL "8")
  set(manual "System Administration")
else()
  set(manual "User Commands")
endif()
set(markdown "${OUTPUT}.md")
file(WRITE "${markdown}"
     "% ${title} ${section} \"\" \"anvil ${VERSION}\" \"${manual}\"\n\n"
     "# NAME\n\n${name} - ${summary}\n${body}")
execute_process(COMMAND "${MD2MAN}" -in "${markdown}" -out "${OUTPUT}"
                RESULT_VARIABLE result ERROR_VARIABLE error)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${INPUT}: go-md2man failed: ${error}")
endif()
file(REMOVE "${markdown}")
