"""Search of the reference directory: validated parameters (params), the ranked match on each database
(facilities, medicines, text), distances (geo), the cache keyed by the current import (cache) and the
page of rows a caller shows (results)."""
