package httpapi_test

import "github.com/omsonline/oms/command/cmderr"

type cmderrField = cmderr.FieldError
