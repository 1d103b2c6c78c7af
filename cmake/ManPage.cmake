# kvseal(1): written by the built CLI from its option tables and the prose in
# src/cli/manpage.c, so the page always matches the program.
include(GNUInstallDirs)
add_custom_command(
  OUTPUT ${PROJECT_BINARY_DIR}/kvseal.1
  COMMAND sh -c "\"$1\" --man > kvseal.1.tmp && mv kvseal.1.tmp kvseal.1" sh
          $<TARGET_FILE:kvseal>
  WORKING_DIRECTORY ${PROJECT_BINARY_DIR}
  DEPENDS kvseal
  COMMENT "Writing the kvseal(1) man page"
  VERBATIM)
add_custom_target(kvseal_man ALL DEPENDS ${PROJECT_BINARY_DIR}/kvseal.1)
install(FILES ${PROJECT_BINARY_DIR}/kvseal.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
