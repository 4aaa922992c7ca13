/**
 * Design documents (CouchDB views) the store needs. Map functions are source text run by
 * the database (real CouchDB or the embedded PouchDB server), so they are plain ES5.
 * Bump DESIGN_VERSION when a view changes: init() replaces out-of-date design documents.
 */
export const DESIGN = 'swirl';
export const DESIGN_VERSION = 3;

/** The listing summary of an entity (no code, no parameters), emitted as the view value. */
const ENTITY_SUMMARY = `
  var v = { namespace: doc.namespace, name: doc.name, version: doc.version, publish: doc.publish,
            annotations: doc.annotations || [], updated: doc.updated };
  if (doc.entityType === 'action') { v.exec = { kind: doc.exec.kind, binary: !!doc.exec.binary }; v.limits = doc.limits; }
  if (doc.entityType === 'rule') { v.status = doc.status; v.trigger = doc.trigger; v.action = doc.action; }
  if (doc.entityType === 'package') { v.binding = doc.binding || {}; }
`;

const ACTIVATION_BRIEF = `
  var path = doc.name;
  (doc.annotations || []).forEach(function (a) { if (a.key === 'path' && typeof a.value === 'string') { path = a.value.split('/').slice(1).join('/'); } });
  var v = { activationId: doc.activationId, namespace: doc.namespace, name: doc.name, version: doc.version,
            publish: doc.publish, annotations: doc.annotations || [], start: doc.start, end: doc.end,
            duration: doc.duration, statusCode: doc.response ? doc.response.statusCode : undefined };
  if (doc.cause) { v.cause = doc.cause; }
`;

export const designDocs = {
  whisks: {
    // every entity of a kind in a root namespace, packaged actions included
    entities: {
      map: `function (doc) { if (doc.entityType && typeof doc.namespace === 'string') { ${ENTITY_SUMMARY}
        emit([doc.entityType, doc.namespace.split('/')[0], doc.updated], v); } }`,
      reduce: '_count',
    },
    // the contents of one package (`ns/pkg`)
    'package-contents': {
      map: `function (doc) { if (doc.entityType && typeof doc.namespace === 'string' && doc.namespace.indexOf('/') > 0) { ${ENTITY_SUMMARY}
        emit([doc.entityType, doc.namespace, doc.updated], v); } }`,
      reduce: '_count',
    },
  },
  subjects: {
    'by-uuid': {
      map: `function (doc) { if (doc.subject && doc.namespaces) { doc.namespaces.forEach(function (n) { emit(n.uuid, n.name); }); } }`,
    },
    'by-namespace': {
      map: `function (doc) { if (doc.subject && doc.namespaces) { doc.namespaces.forEach(function (n) { emit(n.name, null); }); } }`,
    },
  },
  activations: {
    'by-namespace': {
      map: `function (doc) { if (doc.activationId) { ${ACTIVATION_BRIEF} emit([doc.namespace, doc.start], v); } }`,
      reduce: '_count',
    },
    'by-name': {
      map: `function (doc) { if (doc.activationId) { ${ACTIVATION_BRIEF} emit([doc.namespace, path, doc.start], v); } }`,
      reduce: '_count',
    },
  },
  feeds: {
    // trigger feeds per provider (alarms, kafka): each controller loads those it runs
    'by-provider': {
      map: `function (doc) { if (doc.provider && doc.namespace && doc.name) { emit(doc.provider, null); } }`,
    },
  },
  // gateway APIs, under `namespace/basePath`: a namespace's are an _all_docs key range
  apis: {},
} as const;

export type DatabaseName = keyof typeof designDocs;
