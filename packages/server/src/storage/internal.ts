// For the other folders of the server package only (not exported from the package): how a
// request's data scope is opened and named once its caller is known.
export { effectiveDataScope, enterSystem, enterTenant, newScopeHolder, openRequestScope } from './data-scope.js';
