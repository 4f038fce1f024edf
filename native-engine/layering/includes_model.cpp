// Compiled with the ops layer's include tree by the Layering.OpsCannotIncludeModel test: must
// fail, because model/ sits above ops/.
#include "model/config.h"
