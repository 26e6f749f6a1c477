// For the other folders of the platform package only (not exported from the package): reading the
// fields of a certificate's subject, which TLS peer checks share with the PKI.
export { certificateFields, singleSubjectField } from './certificate-fields.js';
