// The agent console's behaviour; every page works without it (forms post, links navigate).
"use strict";
