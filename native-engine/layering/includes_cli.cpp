// Compiled with the server layer's include tree by the Layering.ServerCannotIncludeCli test:
// must fail, because cli/ sits above server/.
#include "cli/args.h"
