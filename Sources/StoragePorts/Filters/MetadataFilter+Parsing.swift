import ProxyCore

extension MetadataFilter {
    /// How big a filter may be (`vector.max_filter_conditions`, `vector.max_filter_depth`;
    /// values in one `$in`/`$nin`: `maxValues`).
    public struct Limits: Sendable {
        public var maxConditions: Int
        public var maxDepth: Int
        public var maxValues: Int
        public init(maxConditions: Int = 64, maxDepth: Int = 8, maxValues: Int = 1024) {
            self.maxConditions = maxConditions; self.maxDepth = maxDepth; self.maxValues = maxValues
        }
    }

    public static let fieldOperators = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$not"]

    /// Reads a filter object:
    ///
    ///     {"team": "ops"}                                   equal (a scalar)
    ///     {"year": {"$gte": 2020, "$lt": 2025}}             operators on a field: all must hold
    ///     {"author.name": {"$in": ["ann", "bo"]}}           a dotted path into nested objects
    ///     {"$or": [{"team": "ops"}, {"tags": "urgent"}]}    `$and`, `$or`: lists of filters
    ///     {"$not": {"team": "ops"}}, {"x": {"$not": {"$gt": 3}}}
    ///
    /// The keys of one object must all hold. Every mistake is `-32602` naming
    /// where (`filter.$or[1].year.$gte`). Read with an explicit stack: a
    /// filter's nesting is bounded by `maxDepth`, never by the call stack.
    public static func parse(_ filter: JSONObject, limits: Limits = .init(), field: String = "filter") throws(ProxyError) -> MetadataFilter {
        enum Work {
            case filter(JSONObject, field: String, depth: Int)
            case field(FieldPath, JSONObject, field: String, depth: Int)
            case emit(Step)
        }
        var work: [Work] = [.filter(filter, field: field, depth: 0)]
        var steps: [Step] = []
        var conditions = 0
        func deeper(_ depth: Int, _ field: String) throws(ProxyError) -> Int {
            guard depth < limits.maxDepth else {
                throw .invalidParams(field: field, reason: "nests deeper than \(limits.maxDepth) levels (vector.max_filter_depth)")
            }
            return depth + 1
        }
        func condition(_ field: String) throws(ProxyError) {
            conditions += 1
            guard conditions <= limits.maxConditions else {
                throw .invalidParams(field: field, reason: "makes the filter hold more than \(limits.maxConditions) conditions (vector.max_filter_conditions)")
            }
        }
        while let item = work.popLast() {
            switch item {
            case .emit(let step):
                steps.append(step)
            case .filter(let object, let at, let depth):
                // Postfix: the children's code, then the step joining them (pushed first, so it runs last).
                work.append(.emit(.and(object.count)))
                for (key, value) in object.members.reversed() {
                    let here = "\(at).\(key)"
                    switch key {
                    case "$and", "$or":
                        guard case .array(let list) = value, !list.isEmpty else {
                            throw .invalidParams(field: here, reason: "must be a non-empty array of filters")
                        }
                        let inner = try deeper(depth, here)
                        work.append(.emit(key == "$and" ? .and(list.count) : .or(list.count)))
                        for (i, element) in list.enumerated().reversed() {
                            guard case .object(let o) = element else {
                                throw .invalidParams(field: "\(here)[\(i)]", reason: "must be a filter object, got \(element.typeName)")
                            }
                            work.append(.filter(o, field: "\(here)[\(i)]", depth: inner))
                        }
                    case "$not":
                        guard case .object(let o) = value else { throw .invalidParams(field: here, reason: "must be a filter object") }
                        work.append(.emit(.not))
                        work.append(.filter(o, field: here, depth: try deeper(depth, here)))
                    default:
                        guard !key.hasPrefix("$") else {
                            throw .invalidParams(field: here, reason: "is not an operator here: $and, $or and $not join filters; "
                                                 + "\(fieldOperators.joined(separator: " ")) go inside a field: {field: {\"$gt\": 1}}")
                        }
                        guard !key.isEmpty else { throw .invalidParams(field: here, reason: "names no field") }
                        switch value {
                        case .object(let ops):
                            work.append(.field(FieldPath(key), ops, field: here, depth: depth))
                        case .array:
                            throw .invalidParams(field: here, reason: "must be a value or an object of operators, got array (a list: {\"$in\": [...]})")
                        default:
                            try condition(here)
                            work.append(.emit(.test(FieldPath(key), .equal(Scalar(value)!))))
                        }
                    }
                }
            case .field(let path, let ops, let at, let depth):
                guard !ops.isEmpty else { throw .invalidParams(field: at, reason: "must name at least one operator") }
                work.append(.emit(.and(ops.count)))
                for (op, operand) in ops.members.reversed() {
                    let here = "\(at).\(op)"
                    if op == "$not" {
                        guard case .object(let inner) = operand, !inner.isEmpty else {
                            throw .invalidParams(field: here, reason: "must be an object of operators")
                        }
                        work.append(.emit(.not))
                        work.append(.field(path, inner, field: here, depth: try deeper(depth, here)))
                        continue
                    }
                    try condition(here)
                    work.append(.emit(.test(path, try fieldCondition(op, operand, here, limits))))
                }
            }
        }
        return MetadataFilter(steps: steps)
    }

    private static func fieldCondition(_ op: String, _ operand: JSONValue, _ field: String, _ limits: Limits) throws(ProxyError) -> Condition {
        func scalar() throws(ProxyError) -> Scalar {
            guard let s = Scalar(operand) else { throw .invalidParams(field: field, reason: "must be a string, number, boolean or null, got \(operand.typeName)") }
            return s
        }
        func ordered() throws(ProxyError) -> Scalar {
            switch operand {
            case .string, .int, .double: return try scalar()
            default: throw .invalidParams(field: field, reason: "must be a number or a string, got \(operand.typeName)")
            }
        }
        func list() throws(ProxyError) -> ScalarSet {
            guard case .array(let values) = operand, !values.isEmpty, values.count <= limits.maxValues else {
                throw .invalidParams(field: field, reason: "must be an array of 1 to \(limits.maxValues) values")
            }
            var out: [Scalar] = []
            for (i, v) in values.enumerated() {
                guard let s = Scalar(v) else {
                    throw .invalidParams(field: "\(field)[\(i)]", reason: "must be a string, number, boolean or null, got \(v.typeName)")
                }
                out.append(s)
            }
            return ScalarSet(out)
        }
        switch op {
        case "$eq": return .equal(try scalar())
        case "$ne": return .notEqual(try scalar())
        case "$gt": return .greater(try ordered())
        case "$gte": return .greaterOrEqual(try ordered())
        case "$lt": return .less(try ordered())
        case "$lte": return .lessOrEqual(try ordered())
        case "$in": return .oneOf(try list())
        case "$nin": return .noneOf(try list())
        case "$exists":
            guard case .bool(let b) = operand else { throw .invalidParams(field: field, reason: "must be true or false") }
            return .exists(b)
        default:
            throw .invalidParams(field: field, reason: "is not one of \(fieldOperators.joined(separator: " "))")
        }
    }
}
